// Federated credential that lets the TTS Kubernetes service account act as the TTS identity.
// Separate from identities.bicep because it needs the cluster's OIDC issuer URL.

@description('Name of the TTS user-assigned identity (created by identities.bicep).')
@minLength(3)
@maxLength(128)
param ttsIdentityName string

@description('OIDC issuer URL of the AKS cluster.')
@minLength(8)
param oidcIssuerUrl string

@description('Kubernetes namespace the TTS release runs in.')
@minLength(1)
@maxLength(63)
param namespace string

@description('Kubernetes service account of the TTS pods.')
@minLength(1)
@maxLength(253)
param serviceAccount string

resource ttsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: ttsIdentityName
}

resource ttsCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: ttsIdentity
  name: 'aks-${namespace}-${serviceAccount}'
  properties: {
    issuer: oidcIssuerUrl
    subject: 'system:serviceaccount:${namespace}:${serviceAccount}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

// The chart's pre-install/pre-upgrade migration Job runs as `<serviceAccount>-migrate`
// (a hook service account exists before the release's own objects) and reads the same
// Key Vault secrets. Federated credentials of one identity must be written one at a time.
resource migrateCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: ttsIdentity
  name: 'aks-${namespace}-${serviceAccount}-migrate'
  dependsOn: [
    ttsCredential
  ]
  properties: {
    issuer: oidcIssuerUrl
    subject: 'system:serviceaccount:${namespace}:${serviceAccount}-migrate'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

@description('The federated subject the service account must match.')
output subject string = ttsCredential.properties.subject
