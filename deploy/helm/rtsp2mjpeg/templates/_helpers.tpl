{{/*
Names. The fullname is cut to 40 characters: origin pods are named
FULLNAME-origin-I, and a pod's hostname is a DNS label (63 at most).
*/}}
{{- define "rtsp2mjpeg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "rtsp2mjpeg.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "rtsp2mjpeg.origin" -}}{{ include "rtsp2mjpeg.fullname" . }}-origin{{- end -}}
{{- define "rtsp2mjpeg.edge" -}}{{ include "rtsp2mjpeg.fullname" . }}-edge{{- end -}}
{{- define "rtsp2mjpeg.configName" -}}{{ include "rtsp2mjpeg.fullname" . }}-config{{- end -}}
{{- define "rtsp2mjpeg.secretName" -}}{{ include "rtsp2mjpeg.fullname" . }}-env{{- end -}}

{{- define "rtsp2mjpeg.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rtsp2mjpeg.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "rtsp2mjpeg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rtsp2mjpeg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* Labels of one component: single, origin or edge. Call with (list $ "edge"). */}}
{{- define "rtsp2mjpeg.componentLabels" -}}
{{ include "rtsp2mjpeg.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "rtsp2mjpeg.componentSelector" -}}
{{ include "rtsp2mjpeg.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "rtsp2mjpeg.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "rtsp2mjpeg.originURL" -}}
{{- if .Values.cluster.originURL -}}
{{- .Values.cluster.originURL -}}
{{- else -}}
{{- $origin := include "rtsp2mjpeg.origin" . -}}
{{- printf "http://%s-{shard}.%s.%s.svc.%s:%d" $origin $origin .Release.Namespace .Values.cluster.clusterDomain (int .Values.containerPort) -}}
{{- end -}}
{{- end -}}

{{/*
The config file. In cluster mode the chart adds the cluster section (shards
and origin_url), so one ConfigMap serves every pod; each pod's role comes
from RTSP2MJPEG_SHARD (auto on origins, edge on edges).
*/}}
{{- define "rtsp2mjpeg.config" -}}
{{- if hasKey .Values.config "cluster" -}}
{{- fail "config.cluster: set the chart's cluster values (cluster.enabled, cluster.shards), not config.cluster: the chart renders that section" -}}
{{- end -}}
{{- if not .Values.config.cameras -}}
{{- fail "config.cameras is empty: list your cameras (name and url), see values.yaml" -}}
{{- end -}}
{{- $cfg := deepCopy .Values.config -}}
{{- if .Values.cluster.enabled -}}
{{- if lt (int .Values.cluster.shards) 1 -}}
{{- fail "cluster.shards must be 1 or more" -}}
{{- end -}}
{{- $_ := set $cfg "cluster" (dict "shards" (int .Values.cluster.shards) "origin_url" (include "rtsp2mjpeg.originURL" .)) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
What the daemon reads at start only: auth, listen, the viewer limits and
timeouts. A change of these rolls the pods even when
configReload.rollOnChange is off. Cameras and the cluster section are
reloaded in place (--watch-config): a change of cluster.shards moves only
the cameras that must move, without a restart.
*/}}
{{- define "rtsp2mjpeg.restartChecksum" -}}
{{- $c := .Values.config -}}
{{- $keys := list "auth" "listen" "max_viewers" "max_viewers_per_camera" "write_timeout" "snapshot_timeout" "max_age" -}}
{{- $start := dict -}}
{{- range $keys -}}
{{- if hasKey $c . -}}
{{- $_ := set $start . (get $c .) -}}
{{- end -}}
{{- end -}}
{{- toYaml $start | sha256sum -}}
{{- end -}}

{{/*
The pod template shared by the single pod, the origins and the edges.
Call with (dict "root" $ "component" "edge" "shard" "edge" "resources" ... "podAnnotations" ... "nodeSelector" ... "tolerations" ... "affinity" ... "extraSpec" ...).
*/}}
{{- define "rtsp2mjpeg.podTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
metadata:
  labels:
    {{- include "rtsp2mjpeg.componentLabels" (list $root .component) | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/restart: {{ include "rtsp2mjpeg.restartChecksum" $root }}
    {{- if $v.configReload.rollOnChange }}
    checksum/config: {{ include "rtsp2mjpeg.config" $root | sha256sum }}
    {{- end }}
    {{- if and $v.secrets.env $v.secrets.rollOnChange }}
    checksum/secret: {{ toYaml $v.secrets.env | sha256sum }}
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with .podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  # The daemon never talks to the Kubernetes API.
  automountServiceAccountToken: false
  # No FOO_SERVICE_HOST/FOO_PORT variables: a Service named rtsp2mjpeg would
  # otherwise put RTSP2MJPEG_PORT... in the daemon's environment.
  enableServiceLinks: false
  shareProcessNamespace: {{ $v.shareProcessNamespace }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  containers:
    - name: rtsp2mjpeg
      image: {{ include "rtsp2mjpeg.image" $root | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args:
        - --config
        - /etc/rtsp2mjpeg/cameras.yml
        {{- if $v.configReload.watch }}
        - --watch-config
        {{- end }}
      env:
        - name: RTSP2MJPEG_LISTEN
          value: {{ printf ":%d" (int $v.containerPort) | quote }}
        - name: RTSP2MJPEG_LOG_LEVEL
          value: {{ $v.logLevel | quote }}
        - name: RTSP2MJPEG_LOG_FORMAT
          value: {{ $v.logFormat | quote }}
        {{- with .shard }}
        - name: RTSP2MJPEG_SHARD
          value: {{ . | quote }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if or $v.secrets.existingSecret $v.secrets.env }}
      envFrom:
        {{- if $v.secrets.existingSecret }}
        - secretRef:
            name: {{ $v.secrets.existingSecret }}
        {{- end }}
        {{- if $v.secrets.env }}
        - secretRef:
            name: {{ include "rtsp2mjpeg.secretName" $root }}
        {{- end }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ $v.containerPort }}
          protocol: TCP
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ $v.probes.startup.periodSeconds }}
        timeoutSeconds: {{ $v.probes.startup.timeoutSeconds }}
        failureThreshold: {{ $v.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ $v.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ $v.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: {{ $v.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ $v.probes.readiness.failureThreshold }}
      {{- if $v.preStopSleepSeconds }}
      lifecycle:
        preStop:
          exec:
            command: ["sleep", {{ $v.preStopSleepSeconds | toString | quote }}]
      {{- end }}
      resources:
        {{- toYaml .resources | nindent 8 }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        # The whole directory, never a subPath: a subPath mount never sees
        # the ConfigMap's updates.
        - name: config
          mountPath: /etc/rtsp2mjpeg
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "rtsp2mjpeg.configName" $root }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ $v.tmpSizeLimit }}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
