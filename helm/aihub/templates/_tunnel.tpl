{{/*
The TLS tunnel to a managed Redis: stunnel (Debian's stunnel4) in client mode,
plain Redis on 127.0.0.1:<localPort> inside the pod, TLS with certificate and
host-name verification to redis.tunnel.connect. Called with (list $ $grace),
after the item's `- name: redis-tunnel`.

As a native sidecar (an init container with restartPolicy Always) it starts
before the node and is stopped only after the node has exited, so requests
draining at shutdown still settle in Redis. As a plain container, its preStop
sleep keeps it up until the node's drain is over.
*/}}
{{- define "aihub.tunnelContainer" -}}
{{- $ := index . 0 }}
{{- $grace := index . 1 }}
{{- $t := $.Values.redis.tunnel -}}
image: {{ printf "%s:%s" $t.image.repository (default $.Chart.AppVersion $t.image.tag) }}
imagePullPolicy: {{ $t.image.pullPolicy }}
args: ["/etc/aihub-tunnel/stunnel.conf"]
{{- if $t.nativeSidecar }}
restartPolicy: Always
{{- else }}
lifecycle:
  preStop:
    exec:
      command: ["sleep", "{{ max 1 (sub $grace 2) }}"]
{{- end }}
volumeMounts:
  - name: tunnel-config
    mountPath: /etc/aihub-tunnel
    readOnly: true
  {{- if $t.caSecret.name }}
  - name: tunnel-ca
    mountPath: /etc/aihub-tunnel-ca
    readOnly: true
  {{- end }}
resources:
  {{- toYaml $t.resources | nindent 2 }}
securityContext:
  {{- toYaml $.Values.securityContext | nindent 2 }}
{{- end }}
