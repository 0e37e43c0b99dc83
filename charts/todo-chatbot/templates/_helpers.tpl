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
