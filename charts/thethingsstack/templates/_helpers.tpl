{{/* Names */}}
{{- define "tts.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tts.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tts.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "tts.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: every Service selects a distinct label set. */}}
{{- define "tts.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tts.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tts.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tts.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag or repository@digest; never untagged (the schema forbids latest). */}}
{{- define "tts.image" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
{{- end -}}

{{- define "tts.publicURL" -}}
{{- printf "%s://%s" .Values.publicScheme .Values.publicHost -}}
{{- end -}}

{{/* The Secret holding cookie keys and passwords. */}}
{{- define "tts.secretName" -}}
{{- if eq .Values.secrets.source "existingSecret" -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets" (include "tts.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Secret read by the migration hook Job: it runs before the release's own objects exist. */}}
{{- define "tts.migrateSecretName" -}}
{{- if eq .Values.secrets.source "existingSecret" -}}
{{- .Values.secrets.existingSecret -}}
{{- else if eq .Values.migration.mode "hook" -}}
{{- printf "%s-migrate" (include "tts.fullname" .) -}}
{{- else -}}
{{- include "tts.secretName" . -}}
{{- end -}}
{{- end -}}

{{- define "tts.redisName" -}}
{{- printf "%s-redis" (include "tts.fullname" .) -}}
{{- end -}}

{{- define "tts.postgresqlName" -}}
{{- printf "%s-postgresql" (include "tts.fullname" .) -}}
{{- end -}}

{{- define "tts.redisSentinel" -}}
{{- and (eq .Values.redis.mode "internal") (gt (int .Values.redis.internal.replicas) 1) -}}
{{- end -}}

{{- define "tts.databaseHost" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "%s.%s.svc" (include "tts.postgresqlName" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.database.host -}}
{{- end -}}
{{- end -}}

{{/* Database URI without password: pgx reads PGPASSWORD from the environment. */}}
{{- define "tts.databaseURI" -}}
{{- $ssl := ternary "disable" .Values.database.sslMode .Values.postgresql.enabled -}}
{{- printf "postgresql://%s@%s:%d/%s?sslmode=%s" .Values.database.user (include "tts.databaseHost" .) (int .Values.database.port) .Values.database.name $ssl -}}
{{- end -}}

{{/* The ConfigMap recording the newest TTS release deployed on this database (a hook:
helm rollback never rewrites it). */}}
{{- define "tts.schemaRecordName" -}}
{{- printf "%s-schema" (include "tts.fullname" .) -}}
{{- end -}}

{{/* The version recorded in the cluster; empty under `helm template` (no cluster). */}}
{{- define "tts.recordedVersion" -}}
{{- $record := lookup "v1" "ConfigMap" .Release.Namespace (include "tts.schemaRecordName" .) -}}
{{- dig "data" "version" "" $record -}}
{{- end -}}

{{/* "true" for a release version (3.32.0, v3.32.1-rc1): only those are compared. */}}
{{- define "tts.isRelease" -}}
{{- regexMatch "^v?[0-9]+[.][0-9]+[.][0-9]+([-+].*)?$" . -}}
{{- end -}}

{{/* The recorded version when image.tag is older and the downgrade is not acknowledged. */}}
{{- define "tts.downgradeFrom" -}}
{{- $recorded := include "tts.recordedVersion" . -}}
{{- $tag := toString .Values.image.tag -}}
{{- $comparable := and (eq (include "tts.isRelease" $tag) "true") (eq (include "tts.isRelease" $recorded) "true") -}}
{{- if and $comparable (ne $recorded .Values.migration.allowDowngradeFrom) -}}
{{- if semverCompare (printf "<%s" $recorded) $tag -}}
{{- $recorded -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The env TTS reads its secrets from (never in the ConfigMap). */}}
{{- define "tts.secretEnv" -}}
{{- $secret := .secret -}}
{{- $keys := .ctx.Values.secrets.keys -}}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.databasePassword }}}
- name: TTN_LW_HTTP_COOKIE_HASH_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.cookieHashKey }}}
- name: TTN_LW_HTTP_COOKIE_BLOCK_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.cookieBlockKey }}}
- name: TTN_LW_CONSOLE_OAUTH_CLIENT_SECRET
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.consoleClientSecret }}}
# Without it each start generates a key and logs it (WARN, with its value).
- name: TTN_LW_CLUSTER_KEYS
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.clusterKey }}}
{{- if .ctx.Values.redis.auth.enabled }}
{{- range $p := list "REDIS" "CACHE_REDIS" "EVENTS_REDIS" }}
- name: TTN_LW_{{ $p }}_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.redisPassword }}}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volume mounting the Key Vault secrets (mounting is what syncs them into the Secret). */}}
{{- define "tts.keyVaultVolume" -}}
- name: secrets-store
  csi:
    driver: secrets-store.csi.k8s.io
    readOnly: true
    volumeAttributes:
      secretProviderClass: {{ . }}
{{- end -}}

{{- define "tts.probe" -}}
httpGet:
  path: /healthz
  port: http
periodSeconds: {{ .periodSeconds }}
failureThreshold: {{ .failureThreshold }}
timeoutSeconds: {{ .timeoutSeconds }}
{{- end -}}


{{/* The Key Vault certificate's name in ingress.tls.keyVaultCertificateUri
(https://<vault>.vault.azure.net/certificates/<name>[/<version>]): the object TTS's own TLS
listeners read through the secrets store (service.tcp). */}}
{{- define "tts.keyVaultCertificateName" -}}
{{- regexFind "certificates/[^/]+" .Values.ingress.tls.keyVaultCertificateUri | trimPrefix "certificates/" -}}
{{- end -}}

{{/* The vault of that URI. */}}
{{- define "tts.keyVaultCertificateVault" -}}
{{- regexFind "^https://[^.]+" .Values.ingress.tls.keyVaultCertificateUri | trimPrefix "https://" -}}
{{- end -}}


{{/* The annotations of a LoadBalancer Service (service.udp, service.tcp): its own, and a
static public IP in our own resource group (the node resource group is read-only on
Automatic; spec.loadBalancerIP is deprecated). */}}
{{- define "tts.loadBalancerAnnotations" -}}
{{- if or .annotations .azure.publicIpName -}}
annotations:
  {{- if .azure.publicIpName }}
  service.beta.kubernetes.io/azure-pip-name: {{ .azure.publicIpName | quote }}
  service.beta.kubernetes.io/azure-load-balancer-resource-group: {{ .azure.resourceGroup | quote }}
  {{- end }}
  {{- with .annotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end -}}
