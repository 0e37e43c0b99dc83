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

{{/*
The egress rule to the Kubernetes API server, from a dict: `to` (NetworkPolicyPeers given in the
values), `ports` (its ports then) and `slices` (what `lookup` returned for the EndpointSlices of
namespace default, or an empty map). Given peers win; else the addresses and ports of the
`kubernetes` Service's slices, which the API server keeps itself (one /32 or /128 ipBlock per
address: policies see the endpoint after the Service's translation, so the Service's address
would match nothing); else, where nothing was found (a render without the cluster), `ports` on
any address.
Usage: {{- include "todo-common.networkPolicy.kubernetesApiEgress" (dict "to" $to "ports" $ports "slices" $slices) | nindent 4 }}
*/}}
{{- define "todo-common.networkPolicy.kubernetesApiEgress" -}}
{{- $to := .to }}
{{- $ports := .ports }}
{{- if not $to }}
{{- $found := list }}
{{- $foundPorts := list }}
{{- range $slice := dig "items" list (.slices | default dict) }}
{{- if eq (dig "metadata" "labels" "kubernetes.io/service-name" "" $slice) "kubernetes" }}
{{- range $endpoint := $slice.endpoints | default list }}
{{- range $address := $endpoint.addresses | default list }}
{{- $found = append $found (dict "ipBlock" (dict "cidr" (printf "%s/%s" $address (ternary "128" "32" (contains ":" $address))))) }}
{{- end }}
{{- end }}
{{- range $port := $slice.ports | default list }}
{{- $foundPorts = append $foundPorts (int $port.port) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $found $foundPorts }}
{{- $to = $found | uniq }}
{{- $ports = $foundPorts | uniq }}
{{- end }}
{{- end -}}
# The Kubernetes API server{{ if not $to }}, on any address: its own could not be read{{ end }}.
- ports:
    {{- range $ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with $to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
