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
