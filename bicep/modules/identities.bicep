// User-assigned identities: the AKS cluster identity (BYO VNet needs one), the TTS workload
// identity and the GitHub Actions identity with its OIDC federated credentials.
// The TTS federated credential needs the cluster's OIDC issuer, so workload-identity.bicep
// adds it after the cluster exists.

@description('Azure region for every resource in this module.')
param location string

@description('Short name prefix, e.g. tts-dev; used to name the resources.')
@minLength(3)
@maxLength(20)
param namePrefix string

@description('Tags applied to every resource.')
param tags object

@description('GitHub repository allowed to sign in as the CI identity, as owner/name.')
@minLength(3)
@maxLength(140)
param githubRepository string

@description('Git branch whose pushes may deploy (federated credential subject ref:refs/heads/<branch>).')
@minLength(1)
@maxLength(100)
param githubBranch string

@description('GitHub deployment environment whose jobs may deploy (subject environment:<name>).')
@minLength(1)
@maxLength(100)
param githubEnvironment string

var githubIssuer = 'https://token.actions.githubusercontent.com'
var githubSubjects = [
  {
    name: 'github-branch-${githubBranch}'
    subject: 'repo:${githubRepository}:ref:refs/heads/${githubBranch}'
  }
  {
    name: 'github-environment-${githubEnvironment}'
    subject: 'repo:${githubRepository}:environment:${githubEnvironment}'
  }
]

resource clusterIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-aks-id'
  location: location
  tags: tags
}

resource ttsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-tts-id'
  location: location
  tags: tags
}

resource githubIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-github-id'
  location: location
  tags: tags
}

// Federated credentials on one identity must be written one at a time (concurrent writes
// fail with a conflict), hence batchSize(1).
@batchSize(1)
resource githubCredentials 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = [
  for cred in githubSubjects: {
    parent: githubIdentity
    name: cred.name
    properties: {
      issuer: githubIssuer
      subject: cred.subject
      audiences: [
        'api://AzureADTokenExchange'
      ]
    }
  }
]

@description('Cluster identity resource id.')
output clusterIdentityId string = clusterIdentity.id

@description('Cluster identity principal (object) id.')
output clusterPrincipalId string = clusterIdentity.properties.principalId

@description('TTS workload identity resource id.')
output ttsIdentityId string = ttsIdentity.id

@description('TTS workload identity name.')
output ttsIdentityName string = ttsIdentity.name

@description('TTS workload identity principal (object) id.')
output ttsPrincipalId string = ttsIdentity.properties.principalId

@description('TTS workload identity client id (service account annotation azure.workload.identity/client-id).')
output ttsClientId string = ttsIdentity.properties.clientId

@description('GitHub Actions identity principal (object) id.')
output githubPrincipalId string = githubIdentity.properties.principalId

@description('GitHub Actions identity client id (AZURE_CLIENT_ID).')
output githubClientId string = githubIdentity.properties.clientId
