{{/*
Helpers of the backend chart. Names are prefixed "backend." because define names are global
across the umbrella chart and its subcharts. What every chart needs (names, labels, image
references, scalar strings, generated secrets, checkov skips) is in the library chart
todo-common; this file binds it to the backend's choices and holds what only the backend needs.
Yes/no helpers render "true" or nothing, so every template asks `if include "backend.x" .`.
*/}}

{{/*
Full name of the objects: "<release>-backend" (e.g. todo-chatbot-backend), or fullnameOverride.
Usage: {{ include "backend.fullname" . }}
*/}}
{{- define "backend.fullname" -}}
{{- include "todo-common.names.fullname" . }}
{{- end }}

{{/*
Standard labels of every object of this chart (component backend).
Usage: labels: {{- include "backend.labels" . | nindent 4 }}
*/}}
{{- define "backend.labels" -}}
{{- include "todo-common.labels.standard" (dict "context" . "component" "backend" "version" .Chart.AppVersion) }}
{{- end }}

{{/*
Selector labels: immutable in a Deployment, so never the version or chart.
Usage: matchLabels: {{- include "backend.selectorLabels" . | nindent 6 }}
*/}}
{{- define "backend.selectorLabels" -}}
{{- include "todo-common.labels.matchLabels" (dict "context" . "component" "backend") }}
{{- end }}

{{/*
Labels of the `helm test` Job and its pod: component backend-test, so the Service, PDB and
NetworkPolicy (which select component backend) never pick the test pod.
Usage: labels: {{- include "backend.testLabels" . | nindent 4 }}
*/}}
{{- define "backend.testLabels" -}}
{{- include "todo-common.labels.standard" (dict "context" . "component" "backend-test" "version" .Chart.AppVersion) }}
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
DATABASE_URL of the chart's Secret: secrets.DATABASE_URL, or the bundled postgres without a
password (the pod gets it as DATABASE_PASSWORD, so it is never copied between Secrets).
Usage: {{ include "backend.databaseUrl" . | b64enc }}
*/}}
{{- define "backend.databaseUrl" -}}
{{- if .Values.secrets.DATABASE_URL }}
{{- /* Fails on a URL the service could not read, with or without a NetworkPolicy. */ -}}
{{- $_ := include "backend.databaseUrlPorts" . }}
{{- .Values.secrets.DATABASE_URL }}
{{- else }}
{{- $pg := .Values.global.postgres }}
{{- printf "postgresql://%s@%s:%v/%s?sslmode=disable" $pg.username (include "todo-common.names.postgres" .) (int $pg.port) $pg.database }}
{{- end }}
{{- end }}

{{/*
The secrets this chart generates, as entries for the todo-common.secrets helpers (YAML list):
BETTER_AUTH_SECRET while the chart renders its Secret and secrets.BETTER_AUTH_SECRET is empty.
Usage: {{- $entries := include "backend.generatedSecrets" . | fromYamlArray }}
*/}}
{{- define "backend.generatedSecrets" -}}
{{- if and (include "backend.createSecret" .) (not .Values.secrets.BETTER_AUTH_SECRET) }}
- secret: {{ include "backend.secretName" . | quote }}
  key: BETTER_AUTH_SECRET
  length: 48
  set: secrets.BETTER_AUTH_SECRET
  setHint: the JWT signing secret shared with the frontend, 32 or more characters
  or: existingSecret
  orHint: a Secret with keys DATABASE_URL and BETTER_AUTH_SECRET
{{- end }}
{{- end }}

{{/*
BETTER_AUTH_SECRET of the chart's Secret: secrets.BETTER_AUTH_SECRET (at least 32 characters),
else one generated once and kept (48 characters). Keeping the live value keeps tokens valid
across `helm upgrade`.
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
{{- include "todo-common.secrets.lookupOrGenerate" (dict "context" . "entry" (include "backend.generatedSecrets" . | fromYamlArray | first)) }}
{{- end }}
{{- end }}

{{/*
Container port: env.PORT, which the service listens on. Probes and the Service use it too.
Usage: containerPort: {{ include "backend.containerPort" . }}
*/}}
{{- define "backend.containerPort" -}}
{{- include "todo-common.strings.scalar" .Values.env.PORT }}
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
  "BETTER_AUTH_SECRET" "it is a secret: use backend.secrets.BETTER_AUTH_SECRET or backend.existingSecret"
  "BETTER_AUTH_URL" "set it with backend.auth.betterAuthUrl"
  "BETTER_AUTH_JWKS_URL" "set it with backend.auth.jwksUrl"
  "CORS_ALLOWED_ORIGINS" "set it with backend.cors.allowedOrigins (a list)" }}
{{- $data := dict }}
{{- range $key, $value := .Values.env }}
{{- if hasKey $reserved $key }}
{{- fail (printf "backend.env.%s cannot be set: %s" $key (get $reserved $key)) }}
{{- end }}
{{- $_ := set $data $key (include "todo-common.strings.scalar" $value) }}
{{- end }}
{{- $_ := set $data "SHUTDOWN_GRACE_PERIOD_SECS" (include "backend.shutdownGracePeriodSeconds" .) }}
{{- with .Values.auth.betterAuthUrl }}
{{- $_ := set $data "BETTER_AUTH_URL" . }}
{{- end }}
{{- with .Values.auth.jwksUrl }}
{{- if not $.Values.auth.betterAuthUrl }}
{{- fail "backend.auth.jwksUrl only moves where the keys of backend.auth.betterAuthUrl are fetched: set backend.auth.betterAuthUrl too (the tokens' iss and aud are checked against it)" }}
{{- end }}
{{- $_ := set $data "BETTER_AUTH_JWKS_URL" . }}
{{- end }}
{{- with .Values.cors.allowedOrigins }}
{{- range $origin := . }}
{{- if or (hasPrefix "http://" $origin | and (hasSuffix ":80" $origin)) (hasPrefix "https://" $origin | and (hasSuffix ":443" $origin)) }}
{{- fail (printf "backend.cors.allowedOrigins: %s names its scheme's default port, which browsers leave out of the Origin header; write it without the port" $origin) }}
{{- end }}
{{- end }}
{{- $_ := set $data "CORS_ALLOWED_ORIGINS" (join "," .) }}
{{- end }}
{{- $lines := list }}
{{- range $key, $value := $data }}
{{- $lines = append $lines (printf "%s: %s" $key (quote $value)) }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}

{{/*
checkov skip annotations of the pod-running objects (Deployment, test Job), one per finding the
deployment contract itself causes, each only while its cause is configured.
Usage: annotations: {{- include "backend.checkovSkips" (dict "context" . "secretsAsEnv" true) | nindent 4 }}
*/}}
{{- define "backend.checkovSkips" -}}
{{- $skips := list "CKV_K8S_40=contract: the image runs as UID 1001 (appuser), below 10000" }}
{{- if .secretsAsEnv }}
{{- $skips = append $skips "CKV_K8S_35=contract: the service reads DATABASE_URL and BETTER_AUTH_SECRET from environment variables injected from the Secret" }}
{{- end }}
{{- include "todo-common.checkov.annotations" (dict "context" .context "skips" $skips "image" .context.Values.image "imageSkips" (dict
  "CKV_K8S_14" "contract: image tag defaults to latest for local builds; set backend.image.tag to a version outside development"
  "CKV_K8S_15" "contract: pullPolicy defaults to IfNotPresent so Kind can run the side-loaded local image"
  "CKV_K8S_43" "contract: the image is referenced as repository:tag (locally built images have no registry digest); set backend.image.digest to pin one")) }}
{{- end }}

{{/*
The database connections the pods can hold at once, as YAML: `pods` (autoscaling.maxReplicas
while the HPA is on, else replicaCount, plus the one pod maxSurge adds during a rollout), `perPod`
(DB_POOL_SIZE + DB_READ_CONNECTIONS + the health check's own connection; the service's defaults
10 and 2 when env leaves them out), `total`, and `text`, the sum spelled out for messages.
Usage: {{- $budget := include "backend.connectionBudget" . | fromYaml }}
*/}}
{{- define "backend.connectionBudget" -}}
{{- $env := .Values.env }}
{{- $pool := atoi (include "todo-common.strings.scalar" (dig "DB_POOL_SIZE" "10" $env)) }}
{{- $reads := atoi (include "todo-common.strings.scalar" (dig "DB_READ_CONNECTIONS" "2" $env)) }}
{{- $replicas := int .Values.replicaCount }}
{{- $counted := printf "replicaCount %d" $replicas }}
{{- if .Values.autoscaling.enabled }}
{{- $replicas = int .Values.autoscaling.maxReplicas }}
{{- $counted = printf "autoscaling.maxReplicas %d" $replicas }}
{{- end }}
{{- $pods := add1 $replicas }}
{{- $perPod := add $pool $reads 1 }}
{{- $total := mul $pods $perPod }}
pods: {{ $pods }}
perPod: {{ $perPod }}
total: {{ $total }}
text: {{ printf "%d pods (%s + 1 surging in a rollout) x %d connections (DB_POOL_SIZE %d + DB_READ_CONNECTIONS %d + 1 health) = %d" $pods $counted $perPod $pool $reads $total | quote }}
{{- end }}

{{/*
Fails the render when the pods could open more database connections than
database.maxConnections allows (0: not checked); renders nothing otherwise.
Usage: {{- include "backend.checkConnectionBudget" . }}
*/}}
{{- define "backend.checkConnectionBudget" -}}
{{- $max := int .Values.database.maxConnections }}
{{- $budget := include "backend.connectionBudget" . | fromYaml }}
{{- if and (gt $max 0) (gt (int $budget.total) $max) }}
{{- fail (printf "backend.database.maxConnections (%d) is less than the pods can open: %s. Lower backend.env.DB_POOL_SIZE or the replica count (backend.autoscaling.maxReplicas with autoscaling), or connect through a pooler (PgBouncer, a managed database's pooled endpoint) and give its limit" $max $budget.text) }}
{{- end }}
{{- end }}

{{/*
The TCP ports of secrets.DATABASE_URL as a JSON list: the port after the host, or the `port=`
query parameter (tokio-postgres reads both), else PostgreSQL's 5432. Only the host and port go
through `urlParse`, after the user, password and query are cut off, so no error can show them.
Fails, without showing the URL, when the service could not read it either: another scheme, a
port that is not a number, several hosts.
Usage: {{- $ports := include "backend.databaseUrlPorts" . | fromJsonArray }}
*/}}
{{- define "backend.databaseUrlPorts" -}}
{{- $url := .Values.secrets.DATABASE_URL }}
{{- $scheme := regexFind "^[A-Za-z][A-Za-z0-9+.-]*://" $url }}
{{- if not (has $scheme (list "postgresql://" "postgres://")) }}
{{- fail "backend.secrets.DATABASE_URL must start with postgresql:// or postgres:// (its value is not shown here)" }}
{{- end }}
{{- $rest := trimPrefix $scheme $url }}
{{- $authority := regexReplaceAll "[/?#].*$" $rest "" }}
{{- $hostPort := regexReplaceAll "^.*@" $authority "" }}
{{- if contains "," $hostPort }}
{{- fail (printf "backend.secrets.DATABASE_URL names several hosts (%s); the service connects to one" $hostPort) }}
{{- end }}
{{- if not (regexMatch "^(\\[[0-9A-Fa-f:.]+\\]|[^:\\[\\]]*)(:[0-9]{1,5})?$" $hostPort) }}
{{- fail (printf "backend.secrets.DATABASE_URL: host and port %q are not a host name or address with an optional numeric port" $hostPort) }}
{{- end }}
{{- $ports := list }}
{{- with regexFind ":[0-9]+$" (urlParse (printf "%s%s" $scheme $hostPort)).host }}
{{- $ports = append $ports (atoi (trimPrefix ":" .)) }}
{{- end }}
{{- $query := regexFind "\\?[^#]*" $rest }}
{{- range $param := regexFindAll "[?&]port=[^&]*" $query -1 }}
{{- range $port := splitList "," (regexReplaceAll "^[?&]port=" $param "") }}
{{- if not (regexMatch "^[0-9]{1,5}$" $port) }}
{{- fail (printf "backend.secrets.DATABASE_URL: its port parameter %q is not a number" $port) }}
{{- end }}
{{- $ports = append $ports (atoi $port) }}
{{- end }}
{{- end }}
{{- default (list 5432) $ports | uniq | toJson }}
{{- end }}

{{/*
The TCP ports the NetworkPolicy opens to an external database, as a JSON list: those of
secrets.DATABASE_URL when the chart renders its Secret from it, else
networkPolicy.externalDatabase.port (the chart cannot read an existingSecret), else 5432. A port
given alongside a URL must be one of the URL's, or the render fails: the policy would block the
database and the pods crash-loop.
Usage: {{- range include "backend.databasePorts" . | fromJsonArray }}
*/}}
{{- define "backend.databasePorts" -}}
{{- $given := .Values.networkPolicy.externalDatabase.port }}
{{- if and .Values.secrets.DATABASE_URL (not .Values.existingSecret) }}
{{- $fromUrl := list }}
{{- range include "backend.databaseUrlPorts" . | fromJsonArray }}
{{- $fromUrl = append $fromUrl (int .) }}
{{- end }}
{{- if and (ne (toString $given) "") (not (has (int $given) $fromUrl)) }}
{{- fail (printf "backend.networkPolicy.externalDatabase.port (%v) is not the port of backend.secrets.DATABASE_URL (%s): the NetworkPolicy would block the database. Leave the port empty to take it from the URL" $given (join ", " $fromUrl)) }}
{{- end }}
{{- toJson $fromUrl }}
{{- else }}
{{- list (int (default 5432 $given)) | toJson }}
{{- end }}
{{- end }}

{{/*
The paths the Ingress and the HTTPRoute route to the API, as a JSON list: its routes (/api), the
Swagger UI and its document. /metrics is not among them: it stays inside the cluster.
Usage: {{- range include "backend.publicPaths" . | fromJsonArray }}
*/}}
{{- define "backend.publicPaths" -}}
{{- list "/api" "/docs" "/openapi.json" | toJson }}
{{- end }}

{{/*
The Secrets the pods read, comma-separated: the backend's (existingSecret or the chart's), and
the bundled PostgreSQL's password Secret while the pods take DATABASE_PASSWORD from it.
Usage: secret.reloader.stakater.com/reload: {{ include "backend.podSecrets" . | quote }}
*/}}
{{- define "backend.podSecrets" -}}
{{- $names := list (include "backend.secretName" .) }}
{{- if include "backend.usesBundledPostgres" . }}
{{- $names = append $names (include "todo-common.names.postgresSecret" .) }}
{{- end }}
{{- join "," $names }}
{{- end }}

{{/*
The URL the service fetches the Better Auth server's public keys from: auth.jwksUrl, else
{auth.betterAuthUrl}/api/auth/jwks (Better Auth's jwt() plugin), else nothing (HS256 only).
Usage: {{- with include "backend.jwksUrl" . }}
*/}}
{{- define "backend.jwksUrl" -}}
{{- if .Values.auth.jwksUrl }}
{{- .Values.auth.jwksUrl }}
{{- else if .Values.auth.betterAuthUrl }}
{{- printf "%s/api/auth/jwks" .Values.auth.betterAuthUrl }}
{{- end }}
{{- end }}

{{/*
The TCP port of an http(s) URL: the one it names, else its scheme's (80, 443).
Usage: port: {{ include "backend.urlPort" $url }}
*/}}
{{- define "backend.urlPort" -}}
{{- $url := urlParse . }}
{{- with regexFind ":[0-9]+$" $url.host }}
{{- trimPrefix ":" . }}
{{- else }}
{{- ternary "443" "80" (eq $url.scheme "https") }}
{{- end }}
{{- end }}
