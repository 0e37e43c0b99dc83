{{/*
Object names. Kubernetes names are at most 63 characters: every name here is cut there and loses
one trailing dash, as `helm create` helpers do.
*/}}

{{/*
Chart name, or the chart's nameOverride: the app.kubernetes.io/name label.
Usage: {{ include "todo-common.names.name" . }}
*/}}
{{- define "todo-common.names.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of a chart's objects as `helm create` makes it: fullnameOverride, else "<release>-<name>"
(name: nameOverride or the chart name), or the release name alone when it already contains the name.
Usage: {{ include "todo-common.names.fullname" . }}
*/}}
{{- define "todo-common.names.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"<release>-<name>", with no overrides: the name of objects other charts of the release find from
the release name alone (the bundled PostgreSQL, Prometheus, Grafana).
Usage: {{ include "todo-common.names.prefixed" (dict "context" . "name" "prometheus") }}
*/}}
{{- define "todo-common.names.prefixed" -}}
{{- printf "%s-%s" .context.Release.Name .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version: the helm.sh/chart label.
Usage: {{ include "todo-common.names.chart" . }}
*/}}
{{- define "todo-common.names.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of the bundled PostgreSQL's StatefulSet and Service, "<release>-postgres": here rather than
in the postgres chart because the backend chart connects to it, and a chart sees the defines of a
sibling only while that sibling is enabled (and never when rendered on its own).
Usage: {{ include "todo-common.names.postgres" . }}
*/}}
{{- define "todo-common.names.postgres" -}}
{{- include "todo-common.names.prefixed" (dict "context" . "name" "postgres") }}
{{- end }}

{{/*
Name of the Secret with the bundled PostgreSQL's password: global.postgres.existingSecret, or the
postgres chart's own, named like its Service. The postgres chart mounts it, the backend chart
reads DATABASE_PASSWORD from it.
Usage: {{ include "todo-common.names.postgresSecret" . }}
*/}}
{{- define "todo-common.names.postgresSecret" -}}
{{- default (include "todo-common.names.postgres" .) .Values.global.postgres.existingSecret }}
{{- end }}
