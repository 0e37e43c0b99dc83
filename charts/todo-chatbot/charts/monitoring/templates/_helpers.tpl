{{/*
Helpers of the monitoring chart. Names are prefixed "monitoring." because define names are
global across the umbrella chart and its subcharts. Yes/no helpers render "true" or nothing, so
every template asks `if include "monitoring.x" .`. Helpers that describe one component take
(dict "ctx" . "component" "prometheus"|"grafana"|"operator").
*/}}

{{/*
Chart name.
Usage: {{ include "monitoring.name" . }}
*/}}
{{- define "monitoring.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the chart's own objects (ServiceMonitor, PrometheusRule): "<release>-monitoring".
Usage: {{ include "monitoring.fullname" . }}
*/}}
{{- define "monitoring.fullname" -}}
{{- printf "%s-monitoring" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of a component's objects: "<release>-prometheus" or "<release>-grafana". No overrides:
Grafana's datasource URL and the NetworkPolicies derive them from the release name.
Usage: {{ include "monitoring.componentFullname" (dict "ctx" . "component" "prometheus") }}
*/}}
{{- define "monitoring.componentFullname" -}}
{{- printf "%s-%s" .ctx.Release.Name .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
Usage: {{ include "monitoring.chart" . }}
*/}}
{{- define "monitoring.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels of every object of this chart, for one component.
Usage: labels: {{- include "monitoring.labels" (dict "ctx" . "component" "prometheus") | nindent 4 }}
*/}}
{{- define "monitoring.labels" -}}
helm.sh/chart: {{ include "monitoring.chart" .ctx }}
{{ include "monitoring.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: todo-chatbot
{{- end }}

{{/*
Selector labels of one component: immutable in a Deployment, so never the version or chart.
Usage: matchLabels: {{- include "monitoring.selectorLabels" (dict "ctx" . "component" "prometheus") | nindent 6 }}
*/}}
{{- define "monitoring.selectorLabels" -}}
app.kubernetes.io/name: {{ include "monitoring.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Labels that pick this release's backend pods (component and instance; the name label follows
the backend chart's nameOverride, and its `helm test` pod has component backend-test).
Usage: matchLabels: {{- include "monitoring.backendSelectorLabels" . | nindent 6 }}
*/}}
{{- define "monitoring.backendSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: backend
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
Image reference: repository:tag, plus @digest when digest is set.
Usage: image: {{ include "monitoring.image" .Values.prometheus.image | quote }}
*/}}
{{- define "monitoring.image" -}}
{{- $ref := printf "%s:%s" .repository (include "monitoring.string" .tag) }}
{{- if .digest }}
{{- $ref = printf "%s@%s" $ref .digest }}
{{- end }}
{{- $ref }}
{{- end }}

{{/*
A scalar value as a string. YAML numbers arrive as float64, which would print as 1.073741824e+09.
Usage: {{ include "monitoring.string" .Values.alerts.memoryLimitBytes }}
*/}}
{{- define "monitoring.string" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
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
{{- printf "http://%s:%v" (include "monitoring.componentFullname" (dict "ctx" . "component" "prometheus")) .Values.prometheus.service.port }}
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
{{- default (include "monitoring.componentFullname" (dict "ctx" . "component" "grafana")) .Values.grafana.admin.existingSecret }}
{{- end }}

{{/*
Grafana admin password of the chart's Secret: the value already in the release's Secret, else a
new random one. Reading the live value keeps the login stable across `helm upgrade`;
`helm template` has no cluster, so it always generates.
Usage: {{ include "monitoring.grafanaAdminPassword" . | b64enc }}
*/}}
{{- define "monitoring.grafanaAdminPassword" -}}
{{- $live := lookup "v1" "Secret" .Release.Namespace (include "monitoring.grafanaSecretName" .) }}
{{- $kept := dig "data" .Values.grafana.admin.passwordKey "" $live }}
{{- if $kept }}
{{- $kept | b64dec }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}

{{/*
checkov skip of CKV_K8S_21 (the default namespace should not be used), only while the release is
in "default": the deployment contract puts it there. The value of a checkov.io/skipN annotation.
Usage: {{- with include "monitoring.defaultNamespaceSkip" . }} checkov.io/skip1: {{ quote . }} {{- end }}
*/}}
{{- define "monitoring.defaultNamespaceSkip" -}}
{{- if eq .Release.Namespace "default" }}
{{- printf "CKV_K8S_21=contract: the frontend reaches the backend at %s-backend.default.svc.cluster.local and the contract's verification commands run without -n, so the release lives in the default namespace" .Release.Name }}
{{- end }}
{{- end }}

{{/*
checkov skip annotations of a Deployment, each only while its cause is configured: the official
images' users, the token Prometheus needs for service discovery, and tags pinned without digest.
Usage: annotations: {{- include "monitoring.checkovSkips" (dict "ctx" . "component" "prometheus") | nindent 4 }}
*/}}
{{- define "monitoring.checkovSkips" -}}
{{- $v := get .ctx.Values .component }}
{{- $skips := list }}
{{- if lt (int $v.securityContext.runAsUser) 10000 }}
{{- $skips = append $skips (printf "CKV_K8S_40=the official %s image runs as UID %d and owns its directories under that user" .component (int $v.securityContext.runAsUser)) }}
{{- end }}
{{- if eq .component "prometheus" }}
{{- $skips = append $skips "CKV_K8S_38=Prometheus discovers the backend pods through the Kubernetes API with its ServiceAccount token (a namespace-scoped Role: get/list/watch pods, endpoints, services)" }}
{{- end }}
{{- if not $v.image.digest }}
{{- if ne $v.image.pullPolicy "Always" }}
{{- $skips = append $skips (printf "CKV_K8S_15=the tag is pinned; IfNotPresent lets Kind run a side-loaded image without registry access; set %s.image.digest to pin the content" .component) }}
{{- end }}
{{- $skips = append $skips (printf "CKV_K8S_43=the tag is pinned; set %s.image.digest to pin the content" .component) }}
{{- end }}
{{- with include "monitoring.defaultNamespaceSkip" .ctx }}
{{- $skips = append $skips . }}
{{- end }}
{{- $lines := list }}
{{- range $i, $skip := $skips }}
{{- $lines = append $lines (printf "checkov.io/skip%d: %s" (add1 $i) (quote $skip)) }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}

{{/*
A fraction as a percentage for humans: 0.05 -> 5, 0.9 -> 90 (rounded to 2 decimals, so float
error never shows as 90.00000000000001).
Usage: {{ include "monitoring.percent" .Values.alerts.errorRatio }}%
*/}}
{{- define "monitoring.percent" -}}
{{- include "monitoring.string" (round (mulf . 100) 2) }}
{{- end }}
