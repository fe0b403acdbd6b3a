// Azure Container Registry (Premium) for the TTS image: Entra-only (no admin user, no
// anonymous pull), AcrPull for the kubelet, AcrPush for the CI identity. No ACR Task: an
// image reaches the registry only through `dagger call with-azure publish|nightly`, which
// scan-gates before it pushes.

@description('Azure region of the registry.')
param location string

@description('Registry name (ACR_NAME): 5-50 alphanumerics, globally unique.')
@minLength(5)
@maxLength(50)
param acrName string

@description('Tags applied to every resource.')
param tags object

@description('Zone-redundant registry (regions with availability zones only).')
param zoneRedundant bool

@description('Object id of the AKS kubelet identity (AcrPull).')
param kubeletObjectId string

@description('Principal id of the GitHub Actions identity (AcrPush).')
param githubPrincipalId string

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var acrPushRoleId = '8311e382-0749-4cb8-b61a-304f252e45ec'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  //checkov:skip=CKV_AZURE_139: GitHub-hosted runners push over the internet and have no fixed IPs; access is Entra-only (admin user and anonymous pull disabled)
  //checkov:skip=CKV_AZURE_166: quarantine blocks every pull until an external scanner releases the image; the pipeline scans with Trivy before it pushes
  name: acrName
  location: location
  tags: tags
  sku: {
    name: 'Premium'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    dataEndpointEnabled: true
    publicNetworkAccess: 'Enabled'
    networkRuleBypassOptions: 'AzureServices'
    zoneRedundancy: zoneRedundant ? 'Enabled' : 'Disabled'
    policies: {
      retentionPolicy: {
        days: 30
        status: 'enabled'
      }
      exportPolicy: {
        status: 'enabled'
      }
    }
  }
}

resource kubeletPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, 'kubelet', acrPullRoleId)
  scope: registry
  properties: {
    description: 'AKS kubelet pulls the TTS image.'
    principalId: kubeletObjectId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
  }
}

resource githubPush 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, githubPrincipalId, acrPushRoleId)
  scope: registry
  properties: {
    description: 'GitHub Actions publishes the scanned TTS image.'
    principalId: githubPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPushRoleId)
  }
}

@description('Registry name (ACR_NAME).')
output acrName string = registry.name

@description('Registry login server (ACR_LOGIN_SERVER).')
output acrLoginServer string = registry.properties.loginServer
