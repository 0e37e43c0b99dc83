{{/*
Helpers of the monitoring chart (a placeholder: no objects yet). Names are prefixed
"monitoring." because define names are global across the umbrella chart and its subcharts.
*/}}

{{/*
Chart name.
Usage: {{ include "monitoring.name" . }}
*/}}
{{- define "monitoring.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the objects: "<release>-monitoring".
Usage: {{ include "monitoring.fullname" . }}
*/}}
{{- define "monitoring.fullname" -}}
{{- printf "%s-monitoring" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
Usage: {{ include "monitoring.chart" . }}
*/}}
{{- define "monitoring.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels of every object of this chart.
Usage: labels: {{- include "monitoring.labels" . | nindent 4 }}
*/}}
{{- define "monitoring.labels" -}}
helm.sh/chart: {{ include "monitoring.chart" . }}
{{ include "monitoring.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: todo-chatbot
{{- end }}

{{/*
Selector labels.
Usage: matchLabels: {{- include "monitoring.selectorLabels" . | nindent 6 }}
*/}}
{{- define "monitoring.selectorLabels" -}}
app.kubernetes.io/name: {{ include "monitoring.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: monitoring
{{- end }}
