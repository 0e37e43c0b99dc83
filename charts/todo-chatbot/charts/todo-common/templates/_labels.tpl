{{/*
Labels. Helpers that describe one component take (dict "context" . "component" "<component>").
*/}}

{{/*
Standard labels of an object: helm.sh/chart, the selector labels, app.kubernetes.io/version when
a version is given (charts that deploy one application pass their appVersion), managed-by and
part-of.
Usage: labels: {{- include "todo-common.labels.standard" (dict "context" . "component" "backend" "version" .Chart.AppVersion) | nindent 4 }}
*/}}
{{- define "todo-common.labels.standard" -}}
helm.sh/chart: {{ include "todo-common.names.chart" .context }}
{{ include "todo-common.labels.matchLabels" . }}
{{- with .version }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: todo-chatbot
{{- end }}

{{/*
Selector labels of a component: name, instance and component, never the version or chart, since
a Deployment's or StatefulSet's selector cannot change.
Usage: matchLabels: {{- include "todo-common.labels.matchLabels" (dict "context" . "component" "backend") | nindent 6 }}
*/}}
{{- define "todo-common.labels.matchLabels" -}}
app.kubernetes.io/name: {{ include "todo-common.names.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Labels that pick this release's backend pods from another chart (the postgres and Prometheus
NetworkPolicies, the ServiceMonitor): instance and component only, since the name label follows
the backend chart's nameOverride; its `helm test` pod has component backend-test.
Usage: matchLabels: {{- include "todo-common.labels.backendPods" . | nindent 6 }}
*/}}
{{- define "todo-common.labels.backendPods" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: backend
{{- end }}

{{/*
Labels that pick this release's bundled Prometheus pods from another chart (the backend's
NetworkPolicy): instance and component only, like todo-common.labels.backendPods.
Usage: matchLabels: {{- include "todo-common.labels.prometheusPods" . | nindent 6 }}
*/}}
{{- define "todo-common.labels.prometheusPods" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: prometheus
{{- end }}

{{/*
Labels that pick this release's bundled PostgreSQL pods from another chart (the backend's
NetworkPolicy): instance and component only, like todo-common.labels.backendPods.
Usage: matchLabels: {{- include "todo-common.labels.postgresPods" . | nindent 6 }}
*/}}
{{- define "todo-common.labels.postgresPods" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: database
{{- end }}
