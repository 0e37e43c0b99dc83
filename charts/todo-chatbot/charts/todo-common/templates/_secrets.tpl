{{/*
A generated secret that must never change once made: the value of `key` in the release's live
Secret `secret` if it has one, else `length` new random letters and digits. Reading the live value
keeps it across `helm upgrade`; `helm template` has no cluster, so it always generates.
Usage: {{ include "todo-common.secrets.lookupOrGenerate" (dict "context" . "secret" $name "key" "password" "length" 32) | b64enc }}
*/}}
{{- define "todo-common.secrets.lookupOrGenerate" -}}
{{- $live := lookup "v1" "Secret" .context.Release.Namespace .secret }}
{{- $kept := dig "data" .key "" $live }}
{{- if $kept }}
{{- $kept | b64dec }}
{{- else }}
{{- randAlphaNum (int .length) }}
{{- end }}
{{- end }}
