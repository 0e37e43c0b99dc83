{{/*
Secrets a chart generates when no value is given, kept across upgrades by reading them back
from the cluster with `lookup`. Each chart lists what it would generate in its
"<chart>.generatedSecrets" helper, one entry per secret: a dict with `secret` and `key` (where the
value lives), `length` (random letters and digits), `set` (the value that gives it instead) with
`setHint` (what it is), and `or` (the value naming an existing Secret that replaces the chart's)
with `orHint` (what that Secret holds); `set` and `or` are relative to the chart.

Where `lookup` cannot reach the cluster (`helm template`, `--dry-run` or `--dry-run=client`,
`helm lint`, Argo CD and other tools that render without a cluster), Helm's `lookup` returns an
empty map for everything (Helm 3.19 and 4.1, pkg/engine: the stub in funcs.go), so a generated
value would change at every render while the cluster (and PostgreSQL's data volume) keeps the
first one. Then the render fails instead, naming the values to set.
*/}}

{{/*
Yes/no: does `lookup` reach this release's namespace? A list of the namespace's Secrets is
always an object (with no items when there are none, or when the namespace does not exist yet,
as before `helm install --create-namespace` creates it), while Helm's stub for renders without a
cluster returns an empty map. Listing Secrets there needs no permission Helm itself lacks: its
default storage lists the release's Secrets on every install and upgrade.
Usage: {{- if include "todo-common.secrets.clusterReachable" . }}
*/}}
{{- define "todo-common.secrets.clusterReachable" -}}
{{- if lookup "v1" "Secret" .Release.Namespace "" }}true{{ end }}
{{- end }}

{{/*
The value of `key` in the release's live Secret `secret`, decoded; empty when there is none (or
when `lookup` cannot reach the cluster).
Usage: {{- $kept := include "todo-common.secrets.kept" (dict "context" . "secret" $name "key" "password") }}
*/}}
{{- define "todo-common.secrets.kept" -}}
{{- $live := lookup "v1" "Secret" .context.Release.Namespace .secret }}
{{- with dig "data" .key "" $live }}{{ b64dec . }}{{ end }}
{{- end }}

{{/*
A generated secret that must never change once made, for one entry of a chart's
"<chart>.generatedSecrets": inside "todo-common.secrets.checksum", a fixed placeholder; else the
value of `key` in the release's live Secret `secret` if it has one; else, where `lookup` reaches the cluster, `length` new random letters and digits. Where it
cannot, a chart rendered on its own fails naming the entry's values; a subchart generates (the
umbrella's templates/validate.yaml, rendered after every subchart template, then fails the whole
render with one message naming every such value: see "todo-common.secrets.unkept").
Usage: {{ include "todo-common.secrets.lookupOrGenerate" (dict "context" . "entry" $entry) | b64enc }}
*/}}
{{- define "todo-common.secrets.lookupOrGenerate" -}}
{{- $entry := .entry }}
{{- $kept := include "todo-common.secrets.kept" (dict "context" .context "secret" $entry.secret "key" $entry.key) }}
{{- if .context.todoCommonSecretsChecksum }}
{{- include "todo-common.secrets.checksumPlaceholder" $entry }}
{{- else if $kept }}
{{- $kept }}
{{- else if or (include "todo-common.secrets.clusterReachable" .context) (not .context.Chart.IsRoot) }}
{{- randAlphaNum (int $entry.length) }}
{{- else }}
{{- fail (include "todo-common.secrets.offlineMessage" (list (include "todo-common.secrets.valueHint" (dict "entry" $entry "prefix" "")))) }}
{{- end }}
{{- end }}

{{/*
The entries of `entries` (a list of "<chart>.generatedSecrets" entries) that the render could not
keep, as "todo-common.secrets.valueHint" lines with `prefix` (the subchart's key under the
umbrella, e.g. "backend."): those whose live Secret lacks the key, and only while `lookup` cannot
reach the cluster (where it can, a missing one is simply generated). One line per entry.
Usage: {{- $lines := include "todo-common.secrets.unkept" (dict "context" . "entries" $entries "prefix" "backend.") | splitList "\n" | compact }}
*/}}
{{- define "todo-common.secrets.unkept" -}}
{{- $context := .context }}
{{- $prefix := .prefix }}
{{- $lines := list }}
{{- range $entry := .entries }}
{{- if not (include "todo-common.secrets.kept" (dict "context" $context "secret" $entry.secret "key" $entry.key)) }}
{{- $lines = append $lines (include "todo-common.secrets.valueHint" (dict "entry" $entry "prefix" $prefix)) }}
{{- end }}
{{- end }}
{{- if and $lines (not (include "todo-common.secrets.clusterReachable" $context)) }}
{{- join "\n" $lines }}
{{- end }}
{{- end }}

{{/*
What to set instead of generating one entry: "<prefix><set> (<setHint>), or <prefix><or>
(<orHint>)", where values under `global.` keep their name (they are the same in every chart).
Usage: {{ include "todo-common.secrets.valueHint" (dict "entry" $entry "prefix" "backend.") }}
*/}}
{{- define "todo-common.secrets.valueHint" -}}
{{- $names := list }}
{{- range $value := list .entry.set .entry.or }}
{{- $names = append $names (ternary $value (printf "%s%s" $.prefix $value) (hasPrefix "global." $value)) }}
{{- end }}
{{- printf "%s (%s), or %s (%s)" (index $names 0) .entry.setHint (index $names 1) .entry.orHint }}
{{- end }}

{{/*
The one message of a render that would generate secrets it cannot keep, from the
"todo-common.secrets.valueHint" lines of every such secret.
Usage: {{- fail (include "todo-common.secrets.offlineMessage" $lines) }}
*/}}
{{- define "todo-common.secrets.offlineMessage" -}}
secrets cannot be generated here: this render cannot read the release's Secrets (helm template,
--dry-run without =server, Argo CD and other tools that render without the cluster), so a
generated value would change at every render and no longer match the one the cluster keeps (the
PostgreSQL volume keeps its first password). Set each value below, or the existing Secret after
"or" (made with kubectl, sealed-secrets or external-secrets):
{{- range . }}
  - {{ . }}
{{- end }}
(charts/todo-chatbot/README.md, section GitOps, explains each.)
{{- end }}

{{/*
Checksum of a Secret template for a pod template's `checksum/secret` annotation, so that changing
what the Secret holds rolls the pods that read it at start: the template at `template` (relative
to the chart's templates/) rendered with every generated value, kept or new, replaced by a fixed
placeholder. It hashes what the user gives (values, the template itself) and never randomness:
the install generates a value that no other render sees again (its `lookup` finds nothing, so a
second include would generate another), while every upgrade reads the kept one back, so a hash
of the generated value would differ between the install and the first upgrade and restart the
pods for nothing. A generated value never changes once made; to replace one, delete the Secret,
upgrade, and restart the pods (`kubectl rollout restart`).
Usage: checksum/secret: {{ include "todo-common.secrets.checksum" (dict "context" . "template" "/secret.yaml") }}
*/}}
{{- define "todo-common.secrets.checksum" -}}
{{- $context := merge (dict "todoCommonSecretsChecksum" true) .context }}
{{- include (print .context.Template.BasePath .template) $context | sha256sum }}
{{- end }}

{{/*
What a generated value renders as inside "todo-common.secrets.checksum": the entry's place,
never a value.
Usage: {{ include "todo-common.secrets.checksumPlaceholder" $entry }}
*/}}
{{- define "todo-common.secrets.checksumPlaceholder" -}}
generated once and kept: {{ .secret }}/{{ .key }}
{{- end }}
