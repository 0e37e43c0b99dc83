{{/*
NetworkPolicy rules that several charts share.
*/}}

{{/*
The egress rule every pod needs for DNS: UDP and TCP 53 to the cluster DNS, `global.dns.to`
(the umbrella's values: the kube-dns/CoreDNS pods in kube-system), to any address when that is
[]. A subchart rendered on its own has no `global.dns` and gets the same kube-dns peer.
Usage: egress: {{- include "todo-common.networkPolicy.dnsEgress" . | nindent 4 }}
*/}}
{{- define "todo-common.networkPolicy.dnsEgress" -}}
{{- $to := list (dict "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" "kube-system")) "podSelector" (dict "matchLabels" (dict "k8s-app" "kube-dns"))) }}
{{- if hasKey (.Values.global | default dict) "dns" }}
{{- $to = .Values.global.dns.to }}
{{- end -}}
# DNS, to the cluster DNS only (global.dns.to).
- ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
  {{- with $to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
