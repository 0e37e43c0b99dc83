{{/*
Helpers of the monitoring chart. Names are prefixed "monitoring." because define names are
global across the umbrella chart and its subcharts. What every chart needs is in the library
chart todo-common; this file binds it to the monitoring chart's choices and holds what only it
needs. Yes/no helpers render "true" or nothing, so every template asks
`if include "monitoring.x" .`. Helpers that describe one component take
(dict "context" . "component" "prometheus"|"grafana"|"operator").
*/}}

{{/*
Full name of the chart's own objects (ServiceMonitor, PrometheusRule): "<release>-monitoring".
Usage: {{ include "monitoring.fullname" . }}
*/}}
{{- define "monitoring.fullname" -}}
{{- include "todo-common.names.prefixed" (dict "context" . "name" .Chart.Name) }}
{{- end }}

{{/*
Name of a component's objects: "<release>-prometheus" or "<release>-grafana". No overrides:
Grafana's datasource URL and the NetworkPolicies derive them from the release name.
Usage: {{ include "monitoring.componentFullname" (dict "context" . "component" "prometheus") }}
*/}}
{{- define "monitoring.componentFullname" -}}
{{- include "todo-common.names.prefixed" (dict "context" .context "name" .component) }}
{{- end }}

{{/*
Standard labels of every object of this chart, for one component. No version label: the chart
deploys two applications (Prometheus and Grafana) with versions of their own.
Usage: labels: {{- include "monitoring.labels" (dict "context" . "component" "prometheus") | nindent 4 }}
*/}}
{{- define "monitoring.labels" -}}
{{- include "todo-common.labels.standard" . }}
{{- end }}

{{/*
Selector labels of one component: immutable in a Deployment, so never the version or chart.
Usage: matchLabels: {{- include "monitoring.selectorLabels" (dict "context" . "component" "prometheus") | nindent 6 }}
*/}}
{{- define "monitoring.selectorLabels" -}}
{{- include "todo-common.labels.matchLabels" . }}
{{- end }}

{{/*
PromQL label matchers of the backend's series: job "backend" (the bundled scrape job, and the
ServiceMonitor relabels its job to the same) in the release namespace, so rules of several
releases in one operator-managed Prometheus never see each other's pods.
Usage: up{ {{- include "monitoring.backendMatchers" . -}} }
*/}}
{{- define "monitoring.backendMatchers" -}}
job="backend",namespace="{{ .Release.Namespace }}"
{{- end }}

{{/*
The alert rules: files/alerts.yaml rendered with `tpl`, the one source of the bundled
Prometheus' rules file and the PrometheusRule's spec.
Usage: {{- include "monitoring.alertRules" . | nindent 4 }}
*/}}
{{- define "monitoring.alertRules" -}}
{{- tpl (.Files.Get "files/alerts.yaml") . }}
{{- end }}

{{/*
Yes/no: render the ServiceMonitor and PrometheusRule? serviceMonitor.enabled, and the cluster
has the ServiceMonitor CRD or serviceMonitor.force is set.
Usage: {{- if include "monitoring.operatorObjects" . }}
*/}}
{{- define "monitoring.operatorObjects" -}}
{{- $sm := .Values.serviceMonitor }}
{{- if and $sm.enabled (or $sm.force (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) }}true{{ end }}
{{- end }}

{{/*
URL Grafana's Prometheus datasource queries: grafana.datasourceUrl or the bundled Prometheus.
Usage: url: {{ include "monitoring.datasourceUrl" . }}
*/}}
{{- define "monitoring.datasourceUrl" -}}
{{- if .Values.grafana.datasourceUrl }}
{{- .Values.grafana.datasourceUrl }}
{{- else if .Values.prometheus.enabled }}
{{- printf "http://%s:%v" (include "monitoring.componentFullname" (dict "context" . "component" "prometheus")) .Values.prometheus.service.port }}
{{- else }}
{{- fail "monitoring.grafana.datasourceUrl must be set when monitoring.prometheus.enabled is false (Grafana needs a Prometheus to query), or turn monitoring.grafana.enabled off" }}
{{- end }}
{{- end }}

{{/*
Yes/no: does this chart render the Grafana admin Secret (no grafana.admin.existingSecret)?
Usage: {{- if include "monitoring.createGrafanaSecret" . }}
*/}}
{{- define "monitoring.createGrafanaSecret" -}}
{{- if not .Values.grafana.admin.existingSecret }}true{{ end }}
{{- end }}

{{/*
Name of the Secret with the Grafana admin user and password: grafana.admin.existingSecret or
"<release>-grafana".
Usage: secretName: {{ include "monitoring.grafanaSecretName" . }}
*/}}
{{- define "monitoring.grafanaSecretName" -}}
{{- default (include "monitoring.componentFullname" (dict "context" . "component" "grafana")) .Values.grafana.admin.existingSecret }}
{{- end }}

{{/*
Grafana admin password of the chart's Secret: generated once, then read back from the live
Secret, so the login stays the same across `helm upgrade`.
Usage: {{ include "monitoring.grafanaAdminPassword" . | b64enc }}
*/}}
{{- define "monitoring.grafanaAdminPassword" -}}
{{- include "todo-common.secrets.lookupOrGenerate" (dict "context" . "secret" (include "monitoring.grafanaSecretName" .) "key" .Values.grafana.admin.passwordKey "length" 32) }}
{{- end }}

{{/*
checkov skip annotations of a Deployment, each only while its cause is configured: the official
images' users, the token Prometheus needs for service discovery, and tags pinned without digest.
Usage: annotations: {{- include "monitoring.checkovSkips" (dict "context" . "component" "prometheus") | nindent 4 }}
*/}}
{{- define "monitoring.checkovSkips" -}}
{{- $v := get .context.Values .component }}
{{- $skips := list }}
{{- if lt (int $v.securityContext.runAsUser) 10000 }}
{{- $skips = append $skips (printf "CKV_K8S_40=the official %s image runs as UID %d and owns its directories under that user" .component (int $v.securityContext.runAsUser)) }}
{{- end }}
{{- if eq .component "prometheus" }}
{{- $skips = append $skips "CKV_K8S_38=Prometheus discovers the backend pods through the Kubernetes API with its ServiceAccount token (a namespace-scoped Role: get/list/watch pods, endpoints, services)" }}
{{- end }}
{{- include "todo-common.checkov.annotations" (dict "context" .context "skips" $skips "image" $v.image "imageSkips" (dict
  "CKV_K8S_15" (printf "the tag is pinned; IfNotPresent lets Kind run a side-loaded image without registry access; set %s.image.digest to pin the content" .component)
  "CKV_K8S_43" (printf "the tag is pinned; set %s.image.digest to pin the content" .component))) }}
{{- end }}

{{/*
A fraction as a percentage for humans: 0.05 -> 5, 0.9 -> 90 (rounded to 2 decimals, so float
error never shows as 90.00000000000001).
Usage: {{ include "monitoring.percent" .Values.alerts.errorRatio }}%
*/}}
{{- define "monitoring.percent" -}}
{{- include "todo-common.strings.scalar" (round (mulf . 100) 2) }}
{{- end }}
