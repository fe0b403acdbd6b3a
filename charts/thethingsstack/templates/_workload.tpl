{{/* Env shared by every TTS container: the ConfigMap plus the secret env. */}}
{{- define "tts.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "tts.fullname" .ctx }}-config
env:
  {{- include "tts.secretEnv" . | nindent 2 }}
{{- end -}}

{{/* Migrate, then upsert the console OAuth client; init containers run in this order. */}}
{{- define "tts.migrationContainers" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $url := include "tts.publicURL" $ctx -}}
- name: migrate
  image: {{ include "tts.image" $v.image }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args: [is-db, migrate]
  {{- include "tts.env" . | nindent 2 }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  resources:
    {{- toYaml $v.migration.resources | nindent 4 }}
  volumeMounts:
    {{- include "tts.volumeMounts" $ctx | nindent 4 }}
{{- if $v.migration.createConsoleClient }}
- name: console-client
  image: {{ include "tts.image" $v.image }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  # The secret is expanded by the kubelet from the env below; it is not in the pod spec.
  args:
    - is-db
    - create-oauth-client
    - --id=console
    - --name=Console
    - --secret=$(TTN_LW_CONSOLE_OAUTH_CLIENT_SECRET)
    - --redirect-uri={{ $url }}/console/oauth/callback
    - --redirect-uri=/console/oauth/callback
    - --logout-redirect-uri={{ $url }}/console
    - --logout-redirect-uri=/console
  {{- include "tts.env" . | nindent 2 }}
    # create-oauth-client logs the client secret at INFO ("Updated OAuth client" secret=…).
    - {name: TTN_LW_LOG_LEVEL, value: warn}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  resources:
    {{- toYaml $v.migration.resources | nindent 4 }}
  volumeMounts:
    {{- include "tts.volumeMounts" $ctx | nindent 4 }}
{{- end }}
{{- end -}}

{{/* Writable and configuration mounts: the root filesystem is read-only. */}}
{{- define "tts.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: blob
  mountPath: /srv/ttn-lorawan/public/blob
{{- if .Values.tts.frequencyPlans.files }}
- name: frequency-plans
  mountPath: {{ .Values.tts.frequencyPlans.directory }}
  readOnly: true
{{- end }}
{{- if eq .Values.tts.tls.mode "certificates" }}
- name: tls
  mountPath: /run/tts/tls
  readOnly: true
{{- end }}
{{- if eq .Values.secrets.source "keyVault" }}
- name: secrets-store
  mountPath: /mnt/secrets-store
  readOnly: true
{{- end }}
{{- end -}}

{{- define "tts.volumes" -}}
- name: tmp
  emptyDir: {sizeLimit: 256Mi}
- name: blob
  emptyDir: {sizeLimit: 1Gi}
{{- if .ctx.Values.tts.frequencyPlans.files }}
- name: frequency-plans
  configMap:
    name: {{ include "tts.fullname" .ctx }}-frequency-plans
{{- end }}
{{- if eq .ctx.Values.tts.tls.mode "certificates" }}
- name: tls
  secret:
    secretName: {{ .ctx.Values.tts.tls.secretName }}
{{- end }}
{{- if eq .ctx.Values.secrets.source "keyVault" }}
{{- include "tts.keyVaultVolume" .spc | nindent 0 }}
{{- end }}
{{- end -}}
