{{/*
A scalar value as a string. YAML numbers arrive as float64, which Go prints in exponent form
(1.073741824e+09): whole numbers are printed as integers, other numbers and strings as they are.
Usage: {{ include "todo-common.strings.scalar" .Values.image.tag }}
*/}}
{{- define "todo-common.strings.scalar" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}
