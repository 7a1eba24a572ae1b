{{/* Objects are named after the release, which the provider names <name>-zookeeper. */}}
{{- define "zookeeper.fullname" -}}{{ .Release.Name | trunc 52 | trimSuffix "-" }}{{- end -}}

{{- define "zookeeper.selectorLabels" -}}
app.kubernetes.io/name: zookeeper
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "zookeeper.labels" -}}
{{ include "zookeeper.selectorLabels" . }}
app.kubernetes.io/component: coordination
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Hikube's presets: the limit of CPU and memory of each size. */}}
{{- define "zookeeper.presets" -}}
nano: {cpu: 250m, memory: 128Mi}
micro: {cpu: 500m, memory: 256Mi}
small: {cpu: "1", memory: 512Mi}
medium: {cpu: "1", memory: 1Gi}
large: {cpu: "2", memory: 2Gi}
xlarge: {cpu: "4", memory: 4Gi}
2xlarge: {cpu: "8", memory: 8Gi}
{{- end -}}

{{/* CPU and memory: explicit resources win over the preset. */}}
{{- define "zookeeper.size" -}}
{{- $preset := index (fromYaml (include "zookeeper.presets" .)) .Values.resourcesPreset -}}
cpu: {{ .Values.resources.cpu | default $preset.cpu | quote }}
memory: {{ .Values.resources.memory | default $preset.memory | quote }}
{{- end -}}

{{/* Three quarters of the memory limit, in MiB, for the JVM heap. */}}
{{- define "zookeeper.heapMi" -}}
{{- $memory := (fromYaml (include "zookeeper.size" .)).memory -}}
{{- $mi := 0 -}}
{{- if hasSuffix "Gi" $memory -}}{{- $mi = mul (trimSuffix "Gi" $memory | int) 1024 -}}{{- else -}}{{- $mi = trimSuffix "Mi" $memory | int -}}{{- end -}}
{{- div (mul $mi 3) 4 -}}
{{- end -}}
