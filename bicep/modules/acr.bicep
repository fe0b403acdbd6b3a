// Azure Container Registry (Premium) for the TTS image: Entra-only (no admin user, no
// anonymous pull), AcrPull for the kubelet, AcrPush for the CI identity, and an optional
// ACR Task that rebuilds Dockerfile.tts nightly (the GitHub Actions nightly is the primary path).

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

@description('Create the nightly ACR Task (Azure-side alternative to the GitHub Actions nightly).')
param enableNightlyTask bool

@description('Git context of the ACR Task: https URL of the repository with #branch, e.g. https://github.com/org/repo.git#main.')
param taskGitContext string

@description('TTS release the ACR Task builds (Dockerfile.tts build argument TTS_VERSION).')
@minLength(5)
@maxLength(20)
param ttsVersion string

@description('Cron schedule (UTC) of the ACR Task.')
param taskSchedule string

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

// Tags carry the run id, never "latest" (AKS Automatic safeguards reject untagged/latest).
resource nightlyTask 'Microsoft.ContainerRegistry/registries/tasks@2019-04-01' = if (enableNightlyTask) {
  parent: registry
  name: 'tts-nightly'
  location: location
  tags: tags
  properties: {
    status: 'Enabled'
    timeout: 7200
    platform: {
      os: 'Linux'
      architecture: 'amd64'
    }
    agentConfiguration: {
      cpu: 2
    }
    step: {
      type: 'Docker'
      contextPath: taskGitContext
      dockerFilePath: 'Dockerfile.tts'
      imageNames: [
        'thethingsstack:${ttsVersion}-acr-{{.Run.ID}}'
      ]
      isPushEnabled: true
      noCache: true
      arguments: [
        {
          name: 'TTS_VERSION'
          value: ttsVersion
          isSecret: false
        }
      ]
    }
    trigger: {
      timerTriggers: [
        {
          name: 'nightly'
          schedule: taskSchedule
          status: 'Enabled'
        }
      ]
    }
  }
}

@description('Registry name (ACR_NAME).')
output acrName string = registry.name

@description('Registry login server (ACR_LOGIN_SERVER).')
output acrLoginServer string = registry.properties.loginServer
