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

{{/* Cross-value checks the JSON schema cannot express; each names the value to fix. */}}
{{- define "tts.validate" -}}
{{- if and (not .Values.postgresql.enabled) (not .Values.database.host) -}}
{{- fail "database.host is required when postgresql.enabled=false: set it to your PostgreSQL server (values-aks.yaml: postgresHost)" -}}
{{- end -}}
{{- if and .Values.postgresql.enabled (eq .Values.migration.mode "hook") -}}
{{- fail "migration.mode=hook cannot reach the in-cluster PostgreSQL (it is created after pre-install hooks): set migration.mode=initContainer or postgresql.enabled=false" -}}
{{- end -}}
{{- if and (eq .Values.migration.mode "initContainer") (or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled) -}}
{{- fail "migration.mode=initContainer with replicaCount>1 or autoscaling.enabled would run concurrent migrations: set migration.mode=hook or replicaCount=1" -}}
{{- end -}}
{{- if and (eq .Values.redis.mode "external") (not .Values.redis.external.address) (not .Values.redis.external.failover.enabled) -}}
{{- fail "redis.external.address is required when redis.mode=external" -}}
{{- end -}}
{{- if and .Values.redis.external.failover.enabled (or (not .Values.redis.external.failover.addresses) (not .Values.redis.external.failover.masterName)) -}}
{{- fail "redis.external.failover.addresses and redis.external.failover.masterName are required when redis.external.failover.enabled=true" -}}
{{- end -}}
{{- if and (eq (include "tts.redisSentinel" .) "true") (not .Values.redis.internal.sentinel.enabled) -}}
{{- fail "redis.internal.replicas>1 needs redis.internal.sentinel.enabled=true: replicas without Sentinel are unrelated servers" -}}
{{- end -}}
{{- if eq .Values.secrets.source "values" -}}
{{- range $k := list "cookieHashKey" "cookieBlockKey" "databasePassword" "consoleClientSecret" -}}
{{- if not (index $.Values.secrets.values $k) -}}
{{- fail (printf "secrets.values.%s is required when secrets.source=values" $k) -}}
{{- end -}}
{{- end -}}
{{- if and $.Values.redis.auth.enabled (not $.Values.secrets.values.redisPassword) -}}
{{- fail "secrets.values.redisPassword is required when redis.auth.enabled=true and secrets.source=values" -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.secrets.source "keyVault" -}}
{{- if or (not .Values.secrets.keyVault.name) (not .Values.secrets.keyVault.tenantId) -}}
{{- fail "secrets.keyVault.name and secrets.keyVault.tenantId are required when secrets.source=keyVault (Bicep outputs keyVaultName, tenantId)" -}}
{{- end -}}
{{- if or (not .Values.workloadIdentity.enabled) (not .Values.workloadIdentity.clientId) -}}
{{- fail "secrets.source=keyVault needs workloadIdentity.enabled=true and workloadIdentity.clientId (Bicep output ttsWorkloadClientId)" -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.tts.tls.mode "certificates") (not .Values.tts.tls.secretName) -}}
{{- fail "tts.tls.secretName is required when tts.tls.mode=certificates" -}}
{{- end -}}
{{- if and .Values.tts.frequencyPlans.files (not (hasKey .Values.tts.frequencyPlans.files "frequency-plans.yml")) -}}
{{- fail "tts.frequencyPlans.files must contain frequency-plans.yml (the index of the plans)" -}}
{{- end -}}
{{- if and (eq .Values.tts.frequencyPlans.source "url") (not .Values.tts.frequencyPlans.url) -}}
{{- fail "tts.frequencyPlans.url is required when tts.frequencyPlans.source=url" -}}
{{- end -}}
{{- if and (eq .Values.tts.blob.provider "azure") (or (not .Values.tts.blob.azure.accountName) (not .Values.tts.blob.azure.container)) -}}
{{- fail "tts.blob.azure.accountName and tts.blob.azure.container are required when tts.blob.provider=azure (Bicep outputs storageAccountName, blobContainerName)" -}}
{{- end -}}
{{- if .Values.ingress.enabled -}}
{{- if and (eq .Values.ingress.tls.mode "keyVault") (not .Values.ingress.tls.keyVaultCertificateUri) -}}
{{- fail "ingress.tls.keyVaultCertificateUri is required when ingress.tls.mode=keyVault" -}}
{{- end -}}
{{- if and (eq .Values.ingress.tls.mode "certManager") (not .Values.ingress.tls.certManagerClusterIssuer) -}}
{{- fail "ingress.tls.certManagerClusterIssuer is required when ingress.tls.mode=certManager" -}}
{{- end -}}
{{- if and (eq .Values.ingress.tls.mode "secret") (not .Values.ingress.tls.secretName) -}}
{{- fail "ingress.tls.secretName is required when ingress.tls.mode=secret" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.parentRefs) -}}
{{- fail "httpRoute.parentRefs is required when httpRoute.enabled=true (the Gateway to attach to)" -}}
{{- end -}}
{{- if and .Values.service.udp.azure.publicIpName (not .Values.service.udp.azure.resourceGroup) -}}
{{- fail "service.udp.azure.resourceGroup is required with service.udp.azure.publicIpName (the node resource group is read-only on AKS Automatic)" -}}
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
