{{/* Objects are named after the release, which the provider names <name>-kafka. */}}
{{- define "kafka.fullname" -}}{{ .Release.Name | trunc 52 | trimSuffix "-" }}{{- end -}}

{{- define "kafka.selectorLabels" -}}
app.kubernetes.io/name: kafka
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kafka.labels" -}}
{{ include "kafka.selectorLabels" . }}
app.kubernetes.io/component: broker
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Hikube's presets: the limit of CPU and memory of each size. */}}
{{- define "kafka.presets" -}}
nano: {cpu: 250m, memory: 128Mi}
micro: {cpu: 500m, memory: 256Mi}
small: {cpu: "1", memory: 512Mi}
medium: {cpu: "1", memory: 1Gi}
large: {cpu: "2", memory: 2Gi}
xlarge: {cpu: "4", memory: 4Gi}
2xlarge: {cpu: "8", memory: 8Gi}
{{- end -}}

{{- define "kafka.size" -}}
{{- $preset := index (fromYaml (include "kafka.presets" .)) .Values.resourcesPreset -}}
cpu: {{ .Values.resources.cpu | default $preset.cpu | quote }}
memory: {{ .Values.resources.memory | default $preset.memory | quote }}
{{- end -}}

{{/* Half the memory limit for the heap (the page cache gets the rest), at most 6 GiB. */}}
{{- define "kafka.heapMi" -}}
{{- $memory := (fromYaml (include "kafka.size" .)).memory -}}
{{- $mi := 0 -}}
{{- if hasSuffix "Gi" $memory -}}{{- $mi = mul (trimSuffix "Gi" $memory | int) 1024 -}}{{- else -}}{{- $mi = trimSuffix "Mi" $memory | int -}}{{- end -}}
{{- min (div $mi 2) 6144 -}}
{{- end -}}

{{- define "kafka.chroot" -}}
{{- .Values.zookeeper.chroot | default (printf "/hikube/%s/%s" .Release.Namespace .Release.Name) -}}
{{- end -}}

{{/* Replication defaults follow the broker count, as Hikube sets them. */}}
{{- define "kafka.replication" -}}
{{- $n := int .Values.replicas -}}
{{- $rf := min $n 3 -}}
{{- $isr := ternary 2 $n (ge $n 3) -}}
default.replication.factor={{ $rf }}
offsets.topic.replication.factor={{ $rf }}
transaction.state.log.replication.factor={{ $rf }}
transaction.state.log.min.isr={{ $isr }}
min.insync.replicas={{ $isr }}
{{- end -}}

{{/* The SCRAM mechanism of the admin and of the brokers among themselves; empty without authentication. */}}
{{- define "kafka.auth" -}}
{{- $mechanism := .Values.auth.mechanism | default "" -}}
{{- if and $mechanism (not (has $mechanism (list "SCRAM-SHA-512" "SCRAM-SHA-256"))) -}}
{{- fail (printf "auth.mechanism must be SCRAM-SHA-512, SCRAM-SHA-256 or empty, not %q" $mechanism) -}}
{{- end -}}
{{- if and $mechanism (not .Values.auth.adminSecret) -}}
{{- fail "auth.adminSecret is required with auth.mechanism: a Secret with the admin's username and password" -}}
{{- end -}}
{{- if and .Values.external.enabled (not $mechanism) -}}
{{- fail "external.enabled needs auth.mechanism: brokers on a LoadBalancer must authenticate their clients" -}}
{{- end -}}
{{- $mechanism -}}
{{- end -}}
