{{/*
Helpers of the postgres chart. Names are prefixed "postgres." because define names are global
across the umbrella chart and its subcharts. What every chart needs is in the library chart
todo-common, including this chart's object and Secret names (the backend chart connects with
them); this file binds it to the postgres chart's choices and holds what only it needs. Yes/no
helpers render "true" or nothing.
*/}}

{{/*
Full name of the objects: always "<release>-postgres" (e.g. todo-chatbot-postgres), with no
overrides, so the backend chart finds it from the release name alone.
Usage: {{ include "postgres.fullname" . }}
*/}}
{{- define "postgres.fullname" -}}
{{- include "todo-common.names.postgres" . }}
{{- end }}

{{/*
Name of the headless Service that governs the StatefulSet's pod DNS.
Usage: serviceName: {{ include "postgres.headlessName" . }}
*/}}
{{- define "postgres.headlessName" -}}
{{- printf "%s-headless" (include "postgres.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels of every object of this chart (component database).
Usage: labels: {{- include "postgres.labels" . | nindent 4 }}
*/}}
{{- define "postgres.labels" -}}
{{- include "todo-common.labels.standard" (dict "context" . "component" "database" "version" .Chart.AppVersion) }}
{{- end }}

{{/*
Selector labels: immutable in a StatefulSet, so never the version or chart.
Usage: matchLabels: {{- include "postgres.selectorLabels" . | nindent 6 }}
*/}}
{{- define "postgres.selectorLabels" -}}
{{- include "todo-common.labels.matchLabels" (dict "context" . "component" "database") }}
{{- end }}

{{/*
Yes/no: does this chart render the password Secret (no global.postgres.existingSecret)?
Usage: {{- if include "postgres.createSecret" . }}
*/}}
{{- define "postgres.createSecret" -}}
{{- if not .Values.global.postgres.existingSecret }}true{{ end }}
{{- end }}

{{/*
Password of the chart's Secret: the one already in the cluster if there is one, else a new
random one. The data volume keeps the password initdb set on first start, so it must never
change; the Secret is also kept on uninstall (helm.sh/resource-policy: keep) so a reinstall
over the kept PersistentVolumeClaim finds the matching password.
Usage: {{ include "postgres.password" . | b64enc }}
*/}}
{{- define "postgres.password" -}}
{{- include "todo-common.secrets.lookupOrGenerate" (dict "context" . "secret" (include "todo-common.names.postgresSecret" .) "key" .Values.global.postgres.passwordKey "length" 32) }}
{{- end }}

{{/*
pg_isready as an exec probe command (the binary itself: exec probes get no shell).
Usage: command: {{- include "postgres.isReadyCommand" . | nindent 14 }}
*/}}
{{- define "postgres.isReadyCommand" -}}
- pg_isready
- -U
- {{ .Values.global.postgres.username | quote }}
- -d
- {{ .Values.global.postgres.database | quote }}
- -h
- 127.0.0.1
- -p
- "5432"
{{- end }}

{{/*
checkov skip annotations of the StatefulSet, each only while its cause is configured. These are
not demanded by the deployment contract but by the official image and offline Kind use.
Usage: annotations: {{- include "postgres.checkovSkips" . | nindent 4 }}
*/}}
{{- define "postgres.checkovSkips" -}}
{{- include "todo-common.checkov.annotations" (dict "context" . "skips" (list "CKV_K8S_40=the official postgres image's postgres user is UID 999 and owns the data directory; another UID cannot use an existing volume") "image" .Values.image "imageSkips" (dict
  "CKV_K8S_15" "the tag is pinned to a patch release; IfNotPresent lets Kind run an image side-loaded without registry access; set postgres.image.digest to pin the content"
  "CKV_K8S_43" "the tag is pinned to a patch release; set postgres.image.digest to pin the content")) }}
{{- end }}
