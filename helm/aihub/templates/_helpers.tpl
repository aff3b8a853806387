{{/*
Names, labels and the few derived values every template shares.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "aihub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The object-name prefix: fullnameOverride, else the release name, with the chart
name appended unless the release name contains it. DNS labels stop at 63
characters; the suffixed names below leave room for their suffix.
*/}}
{{- define "aihub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aihub.adminName" -}}
{{- printf "%s-admin" (include "aihub.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- define "aihub.redisName" -}}
{{- printf "%s-redis" (include "aihub.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- define "aihub.tunnelName" -}}
{{- printf "%s-tunnel" (include "aihub.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{- define "aihub.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; the component label is added per object. */}}
{{- define "aihub.labels" -}}
helm.sh/chart: {{ include "aihub.chart" . }}
app.kubernetes.io/name: {{ include "aihub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: aihub
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of the gateway nodes' pods. */}}
{{- define "aihub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aihub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{/* Selector labels of the bundled Redis pod. */}}
{{- define "aihub.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "aihub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "aihub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aihub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the node reads its three secrets from. */}}
{{- define "aihub.secretName" -}}
{{- if .Values.secret.create }}
{{- include "aihub.fullname" . }}
{{- else }}
{{- default (include "aihub.fullname" .) .Values.secret.existingSecret }}
{{- end }}
{{- end }}

{{/* Key names in that Secret: the variable names when the chart creates it. */}}
{{- define "aihub.secretKeyName" -}}
{{- $ctx := index . 0 }}
{{- $which := index . 1 }}
{{- if $ctx.Values.secret.create }}
{{- get (dict "secretKey" "AIHUB_SECRET_KEY" "adminKey" "AIHUB_ADMIN_KEY" "redisUrl" "AIHUB_REDIS_URL") $which }}
{{- else }}
{{- get $ctx.Values.secret.keys $which }}
{{- end }}
{{- end }}

{{- define "aihub.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The bundled Redis's URL, when redis.bundled.enabled. */}}
{{- define "aihub.bundledRedisUrl" -}}
{{- printf "redis://%s:6379/0" (include "aihub.redisName" .) }}
{{- end }}

{{/* terminationGracePeriodSeconds: set, or computed; always past preStop + drain. */}}
{{- define "aihub.gracePeriod" -}}
{{- $floor := add .Values.preStopSleepSeconds .Values.drainTimeoutSeconds }}
{{- if .Values.terminationGracePeriodSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $floor) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + drainTimeoutSeconds (%d): the kubelet would kill streams still draining" (int .Values.terminationGracePeriodSeconds) (int $floor)) }}
{{- end }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- add $floor 10 }}
{{- end }}
{{- end }}

{{/* Settings the chart owns: not allowed in .Values.config. */}}
{{- define "aihub.checkConfig" -}}
{{- range $k := list "AIHUB_LISTEN" "AIHUB_ADMIN_LISTEN" "AIHUB_DRAIN_TIMEOUT_S" "AIHUB_SECRET_KEY" "AIHUB_ADMIN_KEY" "AIHUB_REDIS_URL" }}
{{- if hasKey $.Values.config $k }}
{{- fail (printf "config.%s: the chart sets %s itself (see values.yaml)" $k $k) }}
{{- end }}
{{- end }}
{{- if and .Values.redis.bundled.enabled .Values.redis.tunnel.enabled }}
{{- fail "redis.bundled.enabled and redis.tunnel.enabled exclude each other: the bundled Redis speaks plain TCP inside the cluster" }}
{{- end }}
{{- end }}
