{{/*
Image reference of an image's values (repository, tag, digest): repository:tag, plus @digest when
digest is set.
Usage: image: {{ include "todo-common.images.image" .Values.image | quote }}
*/}}
{{- define "todo-common.images.image" -}}
{{- $ref := printf "%s:%s" .repository (include "todo-common.strings.scalar" .tag) }}
{{- if .digest }}
{{- $ref = printf "%s@%s" $ref .digest }}
{{- end }}
{{- $ref }}
{{- end }}
