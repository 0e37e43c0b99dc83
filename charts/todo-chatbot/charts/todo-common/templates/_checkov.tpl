{{/*
checkov.io/skipN annotations, one line per finding the object is known to cause, each with its
reason, rendered only while its cause is configured, in this order:
  - `skips`: the object's own, as "CKV_K8S_N=<reason>";
  - `image` (an image's values), with the reasons in `imageSkips` keyed by check, only while no
    digest pins the image: CKV_K8S_14 while the tag is latest, CKV_K8S_15 while pullPolicy is not
    Always, CKV_K8S_43 (no digest); a check without a reason is not skipped;
  - CKV_K8S_21 (the default namespace should not be used) while the release is in "default",
    where the deployment contract puts it.
Renders nothing when no skip applies.
Usage: {{- with include "todo-common.checkov.annotations" (dict "context" .) }} annotations: {{- . | nindent 4 }} {{- end }}
*/}}
{{- define "todo-common.checkov.annotations" -}}
{{- $skips := default (list) .skips }}
{{- $reasons := default (dict) .imageSkips }}
{{- with .image }}
{{- if not .digest }}
{{- if and $reasons.CKV_K8S_14 (eq (include "todo-common.strings.scalar" .tag) "latest") }}
{{- $skips = append $skips (printf "CKV_K8S_14=%s" $reasons.CKV_K8S_14) }}
{{- end }}
{{- if and $reasons.CKV_K8S_15 (ne .pullPolicy "Always") }}
{{- $skips = append $skips (printf "CKV_K8S_15=%s" $reasons.CKV_K8S_15) }}
{{- end }}
{{- with $reasons.CKV_K8S_43 }}
{{- $skips = append $skips (printf "CKV_K8S_43=%s" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq .context.Release.Namespace "default" }}
{{- $skips = append $skips (printf "CKV_K8S_21=contract: the frontend reaches the backend at %s-backend.default.svc.cluster.local and the contract's verification commands run without -n, so the release lives in the default namespace" .context.Release.Name) }}
{{- end }}
{{- $lines := list }}
{{- range $i, $skip := $skips }}
{{- $lines = append $lines (printf "checkov.io/skip%d: %s" (add1 $i) (quote $skip)) }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}
