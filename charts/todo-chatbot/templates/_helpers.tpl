{{/*
Helpers of the todo-chatbot umbrella chart. Names are prefixed "todo-chatbot." because define
names are global across the umbrella chart and its subcharts. Yes/no helpers render "true" or
nothing.
*/}}

{{/*
Yes/no: does the backend have a database? The bundled postgres, backend.secrets.DATABASE_URL
or a DATABASE_URL in backend.existingSecret.
Usage: {{- if not (include "todo-chatbot.hasDatabase" .) }}
*/}}
{{- define "todo-chatbot.hasDatabase" -}}
{{- $backend := .Values.backend }}
{{- if or .Values.postgres.enabled (dig "secrets" "DATABASE_URL" "" $backend) (dig "existingSecret" "" $backend) }}true{{ end }}
{{- end }}

{{/*
The secrets the enabled subcharts would generate but this render cannot keep, as
todo-common.secrets.valueHint lines, one per secret, with the values named as under this chart
(`backend.secrets.BETTER_AUTH_SECRET`); empty when there are none or `lookup` reaches the cluster.
Usage: {{- with include "todo-chatbot.unkeptSecrets" . }}
*/}}
{{- define "todo-chatbot.unkeptSecrets" -}}
{{- $lines := list }}
{{- range $name := list "backend" "postgres" "monitoring" }}
{{- with get $.Subcharts $name }}
{{- $entries := include (printf "%s.generatedSecrets" $name) . | fromYamlArray }}
{{- with include "todo-common.secrets.unkept" (dict "context" . "entries" $entries "prefix" (printf "%s." $name)) }}
{{- $lines = append $lines . }}
{{- end }}
{{- end }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}

{{/*
The values in effect that a plain `helm upgrade`, which starts from the chart's defaults (the
Kind settings) again, would undo, as a JSON list of "name" or "name=value": a database of the
release's own (backend.existingSecret, backend.secrets.DATABASE_URL, postgres.enabled=false),
monitoring other than the bundled one, the API's exposure (Service type, Ingress, HTTPRoute) and
the guard rails (autoscaling, disruption budget, topology spread). Templates cannot see which
values a release was given, so these are the ones whose loss breaks a release: the bundled
PostgreSQL and a new Secret in place of its own database, no HPA. Empty for the defaults.
Usage: {{- $undone := include "todo-chatbot.valuesAnUpgradeWouldUndo" . | fromJsonArray }}
*/}}
{{- define "todo-chatbot.valuesAnUpgradeWouldUndo" -}}
{{- $b := .Values.backend }}
{{- $names := list }}
{{- if dig "existingSecret" "" $b }}{{ $names = append $names "backend.existingSecret" }}{{ end }}
{{- if dig "secrets" "DATABASE_URL" "" $b }}{{ $names = append $names "backend.secrets.DATABASE_URL" }}{{ end }}
{{- if not .Values.postgres.enabled }}{{ $names = append $names "postgres.enabled=false" }}{{ end }}
{{- if not .Values.monitoring.enabled }}{{ $names = append $names "monitoring.enabled=false" }}
{{- else }}
{{- range $component := list "prometheus" "grafana" }}
{{- if not (dig $component "enabled" true $.Values.monitoring) }}{{ $names = append $names (printf "monitoring.%s.enabled=false" $component) }}{{ end }}
{{- end }}
{{- end }}
{{- with dig "service" "type" "NodePort" $b }}{{ if ne . "NodePort" }}{{ $names = append $names (printf "backend.service.type=%s" .) }}{{ end }}{{ end }}
{{- range $switch := list "ingress" "httpRoute" "autoscaling" "podDisruptionBudget" "topologySpread" }}
{{- if dig $switch "enabled" false $b }}{{ $names = append $names (printf "backend.%s.enabled" $switch) }}{{ end }}
{{- end }}
{{- toJson $names }}
{{- end }}
