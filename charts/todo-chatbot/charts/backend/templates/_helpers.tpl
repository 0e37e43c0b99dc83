{{/*
Helpers of the backend chart. Names are prefixed "backend." because define names are global
across the umbrella chart and its subcharts. Yes/no helpers render "true" or nothing, so every
template asks `if include "backend.x" .`.
*/}}

{{/*
Chart name, or nameOverride.
Usage: {{ include "backend.name" . }}
*/}}
{{- define "backend.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the objects: "<release>-backend" (e.g. todo-chatbot-backend), or fullnameOverride.
Usage: {{ include "backend.fullname" . }}
*/}}
{{- define "backend.fullname" -}}
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
Chart name and version for the helm.sh/chart label.
Usage: {{ include "backend.chart" . }}
*/}}
{{- define "backend.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels of every object of this chart.
Usage: labels: {{- include "backend.labels" . | nindent 4 }}
*/}}
{{- define "backend.labels" -}}
helm.sh/chart: {{ include "backend.chart" . }}
{{ include "backend.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: todo-chatbot
{{- end }}

{{/*
Selector labels: immutable in a Deployment, so never the version or chart.
Usage: matchLabels: {{- include "backend.selectorLabels" . | nindent 6 }}
*/}}
{{- define "backend.selectorLabels" -}}
app.kubernetes.io/name: {{ include "backend.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: backend
{{- end }}

{{/*
Labels of the `helm test` Job and its pod: component backend-test, so the Service, PDB and
NetworkPolicy (which select component backend) never pick the test pod.
Usage: labels: {{- include "backend.testLabels" . | nindent 4 }}
*/}}
{{- define "backend.testLabels" -}}
helm.sh/chart: {{ include "backend.chart" . }}
app.kubernetes.io/name: {{ include "backend.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: backend-test
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: todo-chatbot
{{- end }}

{{/*
Image reference: repository:tag, plus @digest when image.digest is set.
Usage: image: {{ include "backend.image" . | quote }}
*/}}
{{- define "backend.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (include "backend.string" .Values.image.tag) }}
{{- if .Values.image.digest }}
{{- $ref = printf "%s@%s" $ref .Values.image.digest }}
{{- end }}
{{- $ref }}
{{- end }}

{{/*
Name of the ServiceAccount the pods run as.
Usage: serviceAccountName: {{ include "backend.serviceAccountName" . }}
*/}}
{{- define "backend.serviceAccountName" -}}
{{- if .Values.serviceAccount.enabled }}
{{- default (include "backend.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the ConfigMap with the non-secret settings.
Usage: name: {{ include "backend.configMapName" . }}
*/}}
{{- define "backend.configMapName" -}}
{{- printf "%s-config" (include "backend.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Yes/no: does this chart render the backend Secret (no existingSecret given)?
Usage: {{- if include "backend.createSecret" . }}
*/}}
{{- define "backend.createSecret" -}}
{{- if not .Values.existingSecret }}true{{ end }}
{{- end }}

{{/*
Name of the Secret holding DATABASE_URL and BETTER_AUTH_SECRET: existingSecret or "<fullname>-secret".
Usage: name: {{ include "backend.secretName" . }}
*/}}
{{- define "backend.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else }}
{{- printf "%s-secret" (include "backend.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Yes/no: does the backend connect to the bundled postgres (no existingSecret, no DATABASE_URL)?
Then DATABASE_URL carries no password and DATABASE_PASSWORD comes from the postgres Secret.
Usage: {{- if include "backend.usesBundledPostgres" . }}
*/}}
{{- define "backend.usesBundledPostgres" -}}
{{- if and (not .Values.existingSecret) (not .Values.secrets.DATABASE_URL) }}true{{ end }}
{{- end }}

{{/*
Host of the bundled postgres: its Service "<release>-postgres". Mirrors "postgres.fullname"
(which has no overrides for exactly this reason); defines of a disabled subchart are not loaded,
so it cannot be included from here.
Usage: {{ include "backend.bundledPostgresHost" . }}
*/}}
{{- define "backend.bundledPostgresHost" -}}
{{- printf "%s-postgres" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of the Secret with the bundled postgres password: global.postgres.existingSecret or the
postgres chart's Secret (named like its Service).
Usage: name: {{ include "backend.postgresSecretName" . }}
*/}}
{{- define "backend.postgresSecretName" -}}
{{- default (include "backend.bundledPostgresHost" .) .Values.global.postgres.existingSecret }}
{{- end }}

{{/*
DATABASE_URL of the chart's Secret: secrets.DATABASE_URL, or the bundled postgres without a
password (the pod gets it as DATABASE_PASSWORD, so it is never copied between Secrets).
Usage: {{ include "backend.databaseUrl" . | b64enc }}
*/}}
{{- define "backend.databaseUrl" -}}
{{- if .Values.secrets.DATABASE_URL }}
{{- .Values.secrets.DATABASE_URL }}
{{- else }}
{{- $pg := .Values.global.postgres }}
{{- printf "postgresql://%s@%s:%v/%s?sslmode=disable" $pg.username (include "backend.bundledPostgresHost" .) (int $pg.port) $pg.database }}
{{- end }}
{{- end }}

{{/*
BETTER_AUTH_SECRET of the chart's Secret: secrets.BETTER_AUTH_SECRET (at least 32 characters),
else the value already in the release's Secret, else a new random one. Reusing the live value
keeps tokens valid across `helm upgrade`; `helm template` has no cluster, so it always generates.
Usage: {{ include "backend.betterAuthSecret" . | b64enc }}
*/}}
{{- define "backend.betterAuthSecret" -}}
{{- $given := toString .Values.secrets.BETTER_AUTH_SECRET }}
{{- if $given }}
{{- if lt (len $given) 32 }}
{{- fail (printf "backend.secrets.BETTER_AUTH_SECRET must be at least 32 characters (got %d); leave it empty to have one generated, or set backend.existingSecret" (len $given)) }}
{{- end }}
{{- $given }}
{{- else }}
{{- $live := lookup "v1" "Secret" .Release.Namespace (include "backend.secretName" .) }}
{{- $kept := dig "data" "BETTER_AUTH_SECRET" "" $live }}
{{- if $kept }}
{{- $kept | b64dec }}
{{- else }}
{{- randAlphaNum 48 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Container port: env.PORT, which the service listens on. Probes and the Service use it too.
Usage: containerPort: {{ include "backend.containerPort" . }}
*/}}
{{- define "backend.containerPort" -}}
{{- include "backend.string" .Values.env.PORT }}
{{- end }}

{{/*
A scalar value as a string. YAML numbers arrive as float64, which would print as 1e+06.
Usage: {{ include "backend.string" .Values.image.tag }}
*/}}
{{- define "backend.string" -}}
{{- if kindIs "float64" . }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{/*
SHUTDOWN_GRACE_PERIOD_SECS: what is left of terminationGracePeriodSeconds after the preStop
sleep and a safety margin, so in-flight requests finish before the kubelet's SIGKILL.
Usage: {{ include "backend.shutdownGracePeriodSeconds" . }}
*/}}
{{- define "backend.shutdownGracePeriodSeconds" -}}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- $sleep := int .Values.lifecycle.preStopSleepSeconds }}
{{- $margin := int .Values.lifecycle.shutdownMarginSeconds }}
{{- $drain := sub (sub $grace $sleep) $margin }}
{{- if lt $drain 1 }}
{{- fail (printf "backend.terminationGracePeriodSeconds (%d) must exceed backend.lifecycle.preStopSleepSeconds (%d) + backend.lifecycle.shutdownMarginSeconds (%d) by at least 1 second, or the service has no time to finish in-flight requests" $grace $sleep $margin) }}
{{- end }}
{{- $drain }}
{{- end }}

{{/*
Data of the ConfigMap: env plus the derived SHUTDOWN_GRACE_PERIOD_SECS, all strings. Keys the
chart sets itself or that hold secrets are refused.
Usage: data: {{- include "backend.configData" . | nindent 2 }}
*/}}
{{- define "backend.configData" -}}
{{- $reserved := dict
  "SHUTDOWN_GRACE_PERIOD_SECS" "it is derived from backend.terminationGracePeriodSeconds and backend.lifecycle"
  "POD_NAME" "the chart sets it from the pod name"
  "DATABASE_URL" "it is a secret: use backend.secrets.DATABASE_URL or backend.existingSecret"
  "DATABASE_PASSWORD" "it is a secret: use backend.secrets.DATABASE_URL or backend.existingSecret"
  "BETTER_AUTH_SECRET" "it is a secret: use backend.secrets.BETTER_AUTH_SECRET or backend.existingSecret" }}
{{- $data := dict }}
{{- range $key, $value := .Values.env }}
{{- if hasKey $reserved $key }}
{{- fail (printf "backend.env.%s cannot be set: %s" $key (get $reserved $key)) }}
{{- end }}
{{- $_ := set $data $key (include "backend.string" $value) }}
{{- end }}
{{- $_ := set $data "SHUTDOWN_GRACE_PERIOD_SECS" (include "backend.shutdownGracePeriodSeconds" .) }}
{{- $lines := list }}
{{- range $key, $value := $data }}
{{- $lines = append $lines (printf "%s: %s" $key (quote $value)) }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}

{{/*
checkov skip of CKV_K8S_21 (the default namespace should not be used), only while the release is
in "default": the deployment contract puts it there. The value of a checkov.io/skipN annotation.
Usage: {{- with include "backend.defaultNamespaceSkip" . }} checkov.io/skip1: {{ quote . }} {{- end }}
*/}}
{{- define "backend.defaultNamespaceSkip" -}}
{{- if eq .Release.Namespace "default" }}
{{- printf "CKV_K8S_21=contract: the frontend reaches the backend at %s-backend.default.svc.cluster.local and the contract's verification commands run without -n, so the release lives in the default namespace" .Release.Name }}
{{- end }}
{{- end }}

{{/*
checkov skip annotations for the pod-running objects (Deployment, test Job), one per finding the
deployment contract itself causes, each only while its cause is configured.
Usage: annotations: {{- include "backend.checkovSkips" (dict "ctx" . "secretsAsEnv" true) | nindent 4 }}
*/}}
{{- define "backend.checkovSkips" -}}
{{- $v := .ctx.Values }}
{{- $skips := list "CKV_K8S_40=contract: the image runs as UID 1001 (appuser), below 10000" }}
{{- if .secretsAsEnv }}
{{- $skips = append $skips "CKV_K8S_35=contract: the service reads DATABASE_URL and BETTER_AUTH_SECRET from environment variables injected from the Secret" }}
{{- end }}
{{- if not $v.image.digest }}
{{- if eq (include "backend.string" $v.image.tag) "latest" }}
{{- $skips = append $skips "CKV_K8S_14=contract: image tag defaults to latest for local builds; set backend.image.tag to a version outside development" }}
{{- end }}
{{- if ne $v.image.pullPolicy "Always" }}
{{- $skips = append $skips "CKV_K8S_15=contract: pullPolicy defaults to IfNotPresent so Kind can run the side-loaded local image" }}
{{- end }}
{{- $skips = append $skips "CKV_K8S_43=contract: the image is referenced as repository:tag (locally built images have no registry digest); set backend.image.digest to pin one" }}
{{- end }}
{{- with include "backend.defaultNamespaceSkip" .ctx }}
{{- $skips = append $skips . }}
{{- end }}
{{- $lines := list }}
{{- range $i, $skip := $skips }}
{{- $lines = append $lines (printf "checkov.io/skip%d: %s" (add1 $i) (quote $skip)) }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}
