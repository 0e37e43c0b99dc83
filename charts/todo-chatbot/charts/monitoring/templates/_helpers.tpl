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
Yes/no: render the Prometheus Operator object of `kind` (ServiceMonitor or PrometheusRule)?
serviceMonitor.enabled, and the cluster serves that kind's monitoring.coreos.com/v1 API (each
its own: a cluster would refuse a kind it does not serve) or serviceMonitor.force is set.
Usage: {{- if include "monitoring.operatorObject" (dict "context" . "kind" "ServiceMonitor") }}
*/}}
{{- define "monitoring.operatorObject" -}}
{{- $sm := .context.Values.serviceMonitor }}
{{- if and $sm.enabled (or $sm.force (.context.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind))) }}true{{ end }}
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
The secrets this chart generates, as entries for the todo-common.secrets helpers (YAML list):
Grafana's admin password while Grafana is on, the chart renders its Secret and
grafana.admin.password is empty.
Usage: {{- $entries := include "monitoring.generatedSecrets" . | fromYamlArray }}
*/}}
{{- define "monitoring.generatedSecrets" -}}
{{- $admin := .Values.grafana.admin }}
{{- if and .Values.grafana.enabled (include "monitoring.createGrafanaSecret" .) (not $admin.password) }}
- secret: {{ include "monitoring.grafanaSecretName" . | quote }}
  key: {{ $admin.passwordKey | quote }}
  length: 32
  set: grafana.admin.password
  setHint: the password of Grafana's admin user
  or: grafana.admin.existingSecret
  orHint: {{ printf "a Secret with keys %s and %s" $admin.userKey $admin.passwordKey | quote }}
{{- end }}
{{- end }}

{{/*
Grafana admin password of the chart's Secret: grafana.admin.password if given, else generated
once, then read back from the live Secret, so the login stays the same across `helm upgrade`.
Usage: {{ include "monitoring.grafanaAdminPassword" . | b64enc }}
*/}}
{{- define "monitoring.grafanaAdminPassword" -}}
{{- if .Values.grafana.admin.password }}
{{- .Values.grafana.admin.password }}
{{- else }}
{{- include "todo-common.secrets.lookupOrGenerate" (dict "context" . "entry" (include "monitoring.generatedSecrets" . | fromYamlArray | first)) }}
{{- end }}
{{- end }}

{{/*
checkov skip annotations of a Deployment, or with "test" true of the component's `helm test` Job
(same image and user, no token), each only while its cause is configured: the official
images' users, the token Prometheus needs for service discovery, and tags pinned without digest.
Usage: annotations: {{- include "monitoring.checkovSkips" (dict "context" . "component" "prometheus") | nindent 4 }}
*/}}
{{- define "monitoring.checkovSkips" -}}
{{- $v := get .context.Values .component }}
{{- $skips := list }}
{{- if lt (int $v.securityContext.runAsUser) 10000 }}
{{- $skips = append $skips (printf "CKV_K8S_40=the official %s image runs as UID %d and owns its directories under that user" .component (int $v.securityContext.runAsUser)) }}
{{- end }}
{{- if and (eq .component "prometheus") (not .test) }}
{{- $skips = append $skips "CKV_K8S_38=Prometheus discovers the backend pods through the Kubernetes API with its ServiceAccount token (a namespace-scoped Role: list and watch pods)" }}
{{- end }}
{{- include "todo-common.checkov.annotations" (dict "context" .context "skips" $skips "image" $v.image "imageSkips" (dict
  "CKV_K8S_15" (printf "the tag is pinned; IfNotPresent lets Kind run a side-loaded image without registry access; set %s.image.digest to pin the content" .component)
  "CKV_K8S_43" (printf "the tag is pinned; set %s.image.digest to pin the content" .component))) }}
{{- end }}

{{/*
A fraction as a percentage for humans: 0.05 -> 5, 0.9 -> 90 (rounded to 2 decimals, so float
error never shows as 90.00000000000001).
Usage: {{ include "monitoring.percent" .Values.alerts.memoryLimitRatio }}%
*/}}
{{- define "monitoring.percent" -}}
{{- include "todo-common.strings.scalar" (round (mulf . 100) 2) }}
{{- end }}

{{/*
Yes/no: render the dashboard ConfigMap for a Grafana the release does not deploy?
dashboardConfigMap.enabled true, or "auto" while the bundled Grafana is off.
Usage: {{- if include "monitoring.dashboardConfigMap" . }}
*/}}
{{- define "monitoring.dashboardConfigMap" -}}
{{- $enabled := .Values.dashboardConfigMap.enabled }}
{{- if eq (toString $enabled) "auto" }}
{{- if not .Values.grafana.enabled }}true{{ end }}
{{- else if $enabled }}true{{ end }}
{{- end }}

{{/*
files/backend-dashboard.json with every datasource reference (uid "prometheus", the bundled
Grafana's provisioned datasource) pointed at `datasourceUid` instead.
Usage: {{- include "monitoring.dashboardJson" (dict "datasourceUid" "prometheus" "context" .) | nindent 4 }}
*/}}
{{- define "monitoring.dashboardJson" -}}
{{- $json := .context.Files.Get "files/backend-dashboard.json" }}
{{- replace "\"uid\": \"prometheus\"" (printf "\"uid\": %s" (toJson .datasourceUid)) $json }}
{{- end }}

{{/*
Labels of a component's `helm test` Job and its pod: component "<component>-test", so the
component's Service, selectors and scrape config never pick the test pod.
Usage: labels: {{- include "monitoring.testLabels" (dict "context" . "component" "prometheus") | nindent 4 }}
*/}}
{{- define "monitoring.testLabels" -}}
{{- include "todo-common.labels.standard" (dict "context" .context "component" (printf "%s-test" .component)) }}
{{- end }}

{{/*
Name of a component's `helm test` Job and NetworkPolicy: "<release>-<component>-test-<what>".
Usage: name: {{ include "monitoring.testName" (dict "context" . "component" "grafana" "what" "dashboard") }}
*/}}
{{- define "monitoring.testName" -}}
{{- printf "%s-test-%s" (include "monitoring.componentFullname" .) .what | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
An SLO's objective as it goes into PromQL (0.999), after checking that a page at burn rate 14.4
can fire at all: 14.4 x (1 - objective) must stay below 1, so the objective at least 0.9306.
Usage: {{ include "monitoring.sloObjective" (dict "slo" "availability" "objective" .Values.slo.availability.objective) }}
*/}}
{{- define "monitoring.sloObjective" -}}
{{- $objective := float64 .objective }}
{{- if or (le $objective 0.0) (ge $objective 1.0) (ge (mulf 14.4 (subf 1 $objective)) 1.0) }}
{{- fail (printf "monitoring.slo.%s.objective must be below 1 and at least 0.9306 (got %v): its fast-burn page fires at 14.4 times the error budget, which would be more than every request" .slo .objective) }}
{{- end }}
{{- include "todo-common.strings.scalar" .objective }}
{{- end }}

{{/*
PromQL matcher of the histogram bucket whose upper bound is `.` (seconds): le="0.25", and for a
whole number le=~"1|1.0", since Prometheus 3 writes whole bounds as "1.0" (OpenMetrics style)
while Prometheus 2 keeps the exposition's "1".
Usage: {{ include "monitoring.leMatcher" .Values.slo.latency.thresholdSeconds }}
*/}}
{{- define "monitoring.leMatcher" -}}
{{- $bound := float64 . }}
{{- if eq $bound (float64 (int64 $bound)) }}
{{- printf "le=~\"%d|%d\\\\.0\"" (int64 $bound) (int64 $bound) }}
{{- else }}
{{- printf "le=\"%s\"" (include "todo-common.strings.scalar" .) }}
{{- end }}
{{- end }}

{{/*
A Prometheus duration (15s, 30d, 4w2d, 1y; the schema checks the form) in seconds, with
Prometheus' units: a year of 365 days, a week of 7.
Usage: {{ include "monitoring.durationSeconds" .Values.prometheus.retention | int64 }}
*/}}
{{- define "monitoring.durationSeconds" -}}
{{- $unit := dict "ms" 0 "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 "y" 31536000 }}
{{- $seconds := 0 }}
{{- range $part := regexFindAll "[0-9]+(ms|[smhdwy])" (toString .) -1 }}
{{- $name := regexFind "(ms|[smhdwy])$" $part }}
{{- $seconds = add $seconds (mul (atoi (trimSuffix $name $part)) (get $unit $name)) }}
{{- end }}
{{- $seconds }}
{{- end }}

{{/*
Fails the render when the bundled Prometheus would drop samples the SLO rules still read: an
error budget is measured over 30 days (files/alerts.yaml, slo:sli_error:ratio_rate30d), so
while an SLO is on, prometheus.retention must cover that window. Renders nothing otherwise.
Usage: {{- include "monitoring.checkRetention" . }}
*/}}
{{- define "monitoring.checkRetention" -}}
{{- $p := .Values.prometheus }}
{{- if and $p.enabled (or .Values.slo.availability.enabled .Values.slo.latency.enabled) }}
{{- if lt (include "monitoring.durationSeconds" $p.retention | int64) (include "monitoring.durationSeconds" "30d" | int64) }}
{{- fail (printf "monitoring.prometheus.retention (%s) is shorter than the SLOs' 30d window: slo:error_budget_remaining:ratio would silently cover only %s. Keep 30d or more (with prometheus.persistence.enabled, so the data outlives the pod), or turn monitoring.slo.*.enabled off" $p.retention $p.retention) }}
{{- end }}
{{- end }}
{{- end }}
