// The Things Stack on Azure: AKS Automatic and everything around it, in one resource group.
//   az deployment group create -g <rg> -p bicep/main.<env>.bicepparam
// Outputs are named for their consumers: GitHub Actions variables (tenantId, subscriptionId,
// githubActionsClientId, resourceGroupName, acrName, acrLoginServer, aksClusterName) and the
// chart's values-aks.yaml (ttsWorkloadClientId, keyVaultName, postgresHost, postgresDatabase,
// udpPublicIpName, resourceGroupName, acrLoginServer, blobContainerName, storageAccountName;
// backupContainerName and redisDatabaseId are the backup CronJob's backup.container and
// backup.managedRedisDatabaseId). With enableCiRunners, ciClusterName, ciEngineTaint and
// ciEngineNodeLabel are for whoever installs the runner charts (docs/bicep.md).
targetScope = 'resourceGroup'

@description('Environment this parameter set describes; selects sizes, HA and retention.')
@allowed([
  'dev'
  'prod'
])
param environmentName string

@description('Azure region; defaults to the resource group region. Needs AKS Automatic, Azure Managed Redis and availability zones for prod.')
param location string = resourceGroup().location

@description('Short name prefix for resource names (lowercase letters, digits, hyphens), e.g. tts-dev.')
@minLength(3)
@maxLength(12)
param namePrefix string

@description('Tags applied to every resource.')
param tags object = {}

@description('GitHub repository (owner/name) whose workflows may sign in as the CI identity.')
@minLength(3)
@maxLength(140)
param githubRepository string

@description('Branch allowed to deploy (federated credential ref:refs/heads/<branch>).')
@minLength(1)
@maxLength(100)
param githubBranch string = 'main'

@description('GitHub deployment environment allowed to deploy (federated credential environment:<name>).')
@minLength(1)
@maxLength(100)
param githubEnvironment string

@description('Kubernetes namespace of the TTS release.')
@minLength(1)
@maxLength(63)
param ttsNamespace string = 'tts'

@description('Kubernetes service account of the TTS pods (chart serviceAccount.name).')
@minLength(1)
@maxLength(253)
param ttsServiceAccount string = 'thethingsstack'

@description('Kubernetes version (major.minor) of the cluster.')
@minLength(4)
@maxLength(8)
param kubernetesVersion string = '1.34'

@description('CIDRs allowed to reach the AKS API server; empty allows any (sign-in is Entra-only).')
param apiServerAuthorizedIpRanges array = []

@description('VNet address space; the subnet prefixes below must lie inside it.')
param vnetAddressPrefix string = '10.40.0.0/16'

@description('API server subnet, at least /28.')
param apiServerSubnetPrefix string = '10.40.0.0/28'

@description('Subnet of the AKS-managed system nodes.')
param systemNodeSubnetPrefix string = '10.40.1.0/24'

@description('Subnet of the autoprovisioned user nodes.')
param nodeSubnetPrefix string = '10.40.4.0/22'

@description('Subnet delegated to PostgreSQL Flexible Server.')
param postgresSubnetPrefix string = '10.40.2.0/24'

@description('Subnet for private endpoints.')
param privateEndpointSubnetPrefix string = '10.40.3.0/24'

@description('Pod CIDR (Azure CNI Overlay); outside the VNet.')
param podCidr string = '10.244.0.0/16'

@description('Service CIDR; outside the VNet and the pod CIDR.')
param serviceCidr string = '10.0.0.0/16'

@description('Cluster DNS service IP inside serviceCidr.')
param dnsServiceIP string = '10.0.0.10'

@description('PostgreSQL compute SKU.')
@minLength(8)
@maxLength(40)
param postgresSkuName string

@description('PostgreSQL compute tier matching postgresSkuName.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string

@description('PostgreSQL storage in GiB.')
@allowed([
  32
  64
  128
  256
  512
  1024
])
param postgresStorageSizeGB int = 32

@description('PostgreSQL administrator login.')
@minLength(1)
@maxLength(63)
param postgresAdminLogin string = 'ttsadmin'

@description('Database TTS uses.')
@minLength(1)
@maxLength(63)
param postgresDatabaseName string = 'ttn_lorawan'

@description('PostgreSQL administrator password; the parameter files read it from TTS_POSTGRES_PASSWORD.')
@secure()
@minLength(16)
@maxLength(128)
param postgresAdminPassword string

@description('TTS cookie hash key (openssl rand -hex 64); from TTS_COOKIE_HASH_KEY.')
@secure()
@minLength(128)
@maxLength(128)
param cookieHashKey string

@description('TTS cookie block key (openssl rand -hex 32); from TTS_COOKIE_BLOCK_KEY.')
@secure()
@minLength(64)
@maxLength(64)
param cookieBlockKey string

@description('TTS cluster key (openssl rand -hex 32); from TTS_CLUSTER_KEY.')
@secure()
@minLength(64)
@maxLength(64)
param clusterKey string

@description('TTS admin user password; from TTS_ADMIN_PASSWORD.')
@secure()
@minLength(12)
@maxLength(128)
param ttsAdminPassword string

@description('TTS Console OAuth client secret; from TTS_CONSOLE_CLIENT_SECRET.')
@secure()
@minLength(16)
@maxLength(128)
param consoleClientSecret string

@description('When the Key Vault secrets expire (ISO 8601, e.g. 2027-06-30T00:00:00Z); rotate before.')
@minLength(20)
@maxLength(25)
param secretsExpireOn string

@description('Blob container for TTS uploads.')
@minLength(3)
@maxLength(63)
param blobContainerName string = 'tts-uploads'

@description('Anonymous read of single blobs in the upload container (TTS Console pictures).')
param publicBlobRead bool = true

@description('Blob container for the scheduled backups (chart value backup.container); never public.')
@minLength(3)
@maxLength(63)
param backupContainerName string = 'tts-backups'

@description('Days a backup is kept before the lifecycle rule deletes it; with backupImmutable also its write-once period.')
@minValue(7)
@maxValue(3650)
param backupRetentionDays int

@description('Write-once (WORM) retention on the backup container for backupRetentionDays, deployed unlocked; lock it by hand (docs/bicep.md).')
param backupImmutable bool

@description('Set once the backup container\'s retention policy is locked: deployments then leave the locked policy alone.')
param backupImmutabilityLocked bool = false

@description('Email address that backup alerts are sent to; empty: no action group, alerts show in Azure Monitor only.')
@maxLength(254)
param alertEmail string = ''

@description('Azure Managed Redis for the network state (values-aks.yaml expects it); false: the chart\'s in-cluster Redis (docs/production-state.md).')
param enableManagedRedis bool = true

@description('Azure Managed Redis SKU (when enableManagedRedis).')
@allowed([
  'Balanced_B0'
  'Balanced_B1'
  'Balanced_B3'
  'Balanced_B5'
  'MemoryOptimized_M10'
  'ComputeOptimized_X3'
])
param redisSkuName string = 'Balanced_B1'

@description('Azure Managed Grafana SKU.')
@allowed([
  'Standard'
  'Essential'
])
param grafanaSku string = 'Standard'

@description('Deploy the CI runner cluster: a small AKS Standard cluster, apart from the application cluster, for self-hosted runners and their privileged Dagger engine (docs/bicep.md, CI runner cluster).')
param enableCiRunners bool = false

@description('VM size of the CI cluster\'s ci (engine) pool, when enableCiRunners; its temp disk holds the ephemeral OS disk and the engine cache.')
@allowed([
  'Standard_D4ds_v5'
  'Standard_D8ds_v5'
  'Standard_D16ds_v5'
])
param ciEngineVmSize string = 'Standard_D8ds_v5'

@description('Fewest ci (engine) nodes, when enableCiRunners: each kept node keeps a warm engine cache; 0 saves its cost and starts cold after every scale-down.')
@minValue(0)
@maxValue(10)
param ciMinNodes int = 1

@description('Most ci (engine) nodes, when enableCiRunners; at least ciMinNodes.')
@minValue(1)
@maxValue(10)
param ciMaxNodes int = 3

var isProd = environmentName == 'prod'
var zones = isProd ? [
  '1'
  '2'
  '3'
] : []
var allTags = union(tags, {
  application: 'the-things-stack'
  environment: environmentName
})
// Globally unique names get a stable per-resource-group suffix.
var suffix = uniqueString(resourceGroup().id)
var compactPrefix = toLower(replace(namePrefix, '-', ''))
var acrName = take('${compactPrefix}${suffix}', 50)
var keyVaultName = take('${namePrefix}-kv-${suffix}', 24)
var signingVaultName = take('${namePrefix}-sig-${suffix}', 24)
var storageAccountName = take('${compactPrefix}st${suffix}', 24)
var postgresServerName = '${namePrefix}-pg-${suffix}'
var aksClusterName = '${namePrefix}-aks'

module identities 'modules/identities.bicep' = {
  name: 'identities'
  params: {
    location: location
    namePrefix: namePrefix
    tags: allTags
    githubRepository: githubRepository
    githubBranch: githubBranch
    githubEnvironment: githubEnvironment
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  params: {
    location: location
    namePrefix: namePrefix
    tags: allTags
    vnetAddressPrefix: vnetAddressPrefix
    apiServerSubnetPrefix: apiServerSubnetPrefix
    systemNodeSubnetPrefix: systemNodeSubnetPrefix
    nodeSubnetPrefix: nodeSubnetPrefix
    postgresSubnetPrefix: postgresSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    clusterPrincipalId: identities.outputs.clusterPrincipalId
    zones: zones
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    namePrefix: namePrefix
    tags: allTags
    logRetentionDays: isProd ? 90 : 30
    grafanaSku: grafanaSku
    alertEmail: alertEmail
  }
}

module aks 'modules/aks.bicep' = {
  name: 'aks'
  params: {
    location: location
    clusterName: aksClusterName
    tags: allTags
    clusterIdentityId: identities.outputs.clusterIdentityId
    apiServerSubnetId: network.outputs.apiServerSubnetId
    systemNodeSubnetId: network.outputs.systemNodeSubnetId
    nodeSubnetId: network.outputs.nodeSubnetId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    kubernetesVersion: kubernetesVersion
    upgradeChannel: isProd ? 'stable' : 'patch'
    apiServerAuthorizedIpRanges: apiServerAuthorizedIpRanges
    podCidr: podCidr
    serviceCidr: serviceCidr
    dnsServiceIP: dnsServiceIP
  }
}

module clusterMonitoring 'modules/cluster-monitoring.bicep' = {
  name: 'cluster-monitoring'
  params: {
    location: location
    namePrefix: namePrefix
    tags: allTags
    clusterName: aks.outputs.clusterName
    prometheusWorkspaceId: monitoring.outputs.prometheusWorkspaceId
    prometheusDcrId: monitoring.outputs.prometheusDcrId
    dataCollectionEndpointId: monitoring.outputs.dataCollectionEndpointId
    containerInsightsDcrId: monitoring.outputs.containerInsightsDcrId
    actionGroupId: monitoring.outputs.actionGroupId
    ttsNamespace: ttsNamespace
  }
}

module workloadIdentity 'modules/workload-identity.bicep' = {
  name: 'workload-identity'
  params: {
    ttsIdentityName: identities.outputs.ttsIdentityName
    oidcIssuerUrl: aks.outputs.oidcIssuerUrl
    namespace: ttsNamespace
    serviceAccount: ttsServiceAccount
  }
}

module acr 'modules/acr.bicep' = {
  name: 'acr'
  params: {
    location: location
    acrName: acrName
    tags: allTags
    zoneRedundant: isProd
    kubeletObjectId: aks.outputs.kubeletObjectId
    githubPrincipalId: identities.outputs.githubPrincipalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    keyVaultName: keyVaultName
    tags: allTags
    softDeleteRetentionDays: isProd ? 90 : 7
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetId: network.outputs.vnetId
    ttsPrincipalId: identities.outputs.ttsPrincipalId
    postgresPassword: postgresAdminPassword
    cookieHashKey: cookieHashKey
    cookieBlockKey: cookieBlockKey
    adminPassword: ttsAdminPassword
    consoleClientSecret: consoleClientSecret
    clusterKey: clusterKey
    secretsExpireOn: secretsExpireOn
  }
}

module signing 'modules/signing.bicep' = {
  name: 'signing'
  params: {
    location: location
    vaultName: signingVaultName
    tags: allTags
    softDeleteRetentionDays: isProd ? 90 : 7
    signerPrincipalId: identities.outputs.githubPrincipalId
    keyExpiresOn: secretsExpireOn
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    location: location
    serverName: postgresServerName
    tags: allTags
    delegatedSubnetId: network.outputs.postgresSubnetId
    vnetId: network.outputs.vnetId
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    highAvailability: isProd
    backupRetentionDays: isProd ? 35 : 7
    geoRedundantBackup: isProd
    administratorLogin: postgresAdminLogin
    administratorPassword: postgresAdminPassword
    databaseName: postgresDatabaseName
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    storageAccountName: storageAccountName
    tags: allTags
    skuName: isProd ? 'Standard_ZRS' : 'Standard_LRS'
    containerName: blobContainerName
    publicBlobRead: publicBlobRead
    ttsPrincipalId: identities.outputs.ttsPrincipalId
    githubPrincipalId: identities.outputs.githubPrincipalId
    deleteRetentionDays: isProd ? 30 : 7
    backupContainerName: backupContainerName
    backupRetentionDays: backupRetentionDays
    backupImmutable: backupImmutable
    backupImmutabilityLocked: backupImmutabilityLocked
  }
}

module redis 'modules/redis.bicep' = if (enableManagedRedis) {
  name: 'redis'
  params: {
    location: location
    redisName: '${namePrefix}-redis-${suffix}'
    tags: allTags
    skuName: redisSkuName
    highAvailability: isProd
    persistAof: true
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetId: network.outputs.vnetId
    keyVaultName: keyVault.outputs.keyVaultName
    secretsExpireOn: secretsExpireOn
    ttsPrincipalId: identities.outputs.ttsPrincipalId
  }
}

// Self-hosted CI runners, off by default: a cluster of their own, with no role assignments
// (modules/ci-runners.bicep says why).
module ciRunners 'modules/ci-runners.bicep' = if (enableCiRunners) {
  name: 'ci-runners'
  params: {
    location: location
    clusterName: '${namePrefix}-ci-aks'
    tags: allTags
    kubernetesVersion: kubernetesVersion
    apiServerAuthorizedIpRanges: apiServerAuthorizedIpRanges
    engineVmSize: ciEngineVmSize
    engineMinNodes: ciMinNodes
    engineMaxNodes: ciMaxNodes
  }
}

// GitHub Actions deploys with Helm: it may fetch Entra kubeconfig and write workloads, and
// nothing else (no cluster-admin, no role assignments, no infrastructure changes).
var aksClusterUserRoleId = '4abbcc35-e782-43d8-92c5-2d3f1bd2253f'
var aksRbacWriterRoleId = 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb'

resource cluster 'Microsoft.ContainerService/managedClusters@2026-04-01' existing = {
  name: aksClusterName
}

resource githubClusterUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, aksClusterName, 'github', aksClusterUserRoleId)
  scope: cluster
  properties: {
    description: 'GitHub Actions: az aks get-credentials (Entra kubeconfig).'
    principalId: identities.outputs.githubPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', aksClusterUserRoleId)
  }
  dependsOn: [
    aks
  ]
}

resource githubRbacWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, aksClusterName, 'github', aksRbacWriterRoleId)
  scope: cluster
  properties: {
    description: 'GitHub Actions: helm upgrade --install of the TTS chart.'
    principalId: identities.outputs.githubPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', aksRbacWriterRoleId)
  }
  dependsOn: [
    aks
  ]
}

// GitHub Actions variables
@description('Entra tenant id (AZURE_TENANT_ID).')
output tenantId string = tenant().tenantId

@description('Subscription id (AZURE_SUBSCRIPTION_ID).')
output subscriptionId string = subscription().subscriptionId

@description('Client id of the GitHub Actions identity (AZURE_CLIENT_ID).')
output githubActionsClientId string = identities.outputs.githubClientId

@description('Resource group of the deployment (AZURE_RESOURCE_GROUP; chart value resourceGroupName).')
output resourceGroupName string = resourceGroup().name

@description('Registry name (ACR_NAME).')
output acrName string = acr.outputs.acrName

@description('Registry login server (ACR_LOGIN_SERVER; chart value acrLoginServer).')
output acrLoginServer string = acr.outputs.acrLoginServer

@description('AKS cluster name (AKS_CLUSTER_NAME).')
output aksClusterName string = aks.outputs.clusterName

@description('Key Vault key that signs the image (SIGNING_KEY_ID): publish signs with it, deploy verifies against it.')
output signingKeyId string = signing.outputs.signingKeyId

// Chart values (values-aks.yaml)
@description('Client id of the TTS workload identity.')
output ttsWorkloadClientId string = identities.outputs.ttsClientId

@description('Key Vault holding the TTS secrets.')
output keyVaultName string = keyVault.outputs.keyVaultName

@description('PostgreSQL server FQDN (private).')
output postgresHost string = postgres.outputs.postgresHost

@description('PostgreSQL database name.')
output postgresDatabase string = postgres.outputs.postgresDatabase

@description('Name of the static public IP for the UDP 1700 Service (azure-pip-name).')
output udpPublicIpName string = network.outputs.udpPublicIpName

@description('Blob container for TTS uploads.')
output blobContainerName string = storage.outputs.blobContainerName

@description('Storage account of the upload and backup containers.')
output storageAccountName string = storage.outputs.storageAccountName

@description('Blob container the backup CronJob writes to (chart value backup.container).')
output backupContainerName string = storage.outputs.backupContainerName

// For people, not wired to a consumer
@description('The UDP 1700 address to configure in gateways.')
output udpPublicIpAddress string = network.outputs.udpPublicIpAddress

@description('Public base URL of the upload container (TTS picture bucket URL).')
output blobContainerUrl string = storage.outputs.blobContainerUrl

@description('Azure Managed Grafana name (az grafana dashboard import).')
output grafanaName string = monitoring.outputs.grafanaName

@description('Azure Managed Grafana URL.')
output grafanaEndpoint string = monitoring.outputs.grafanaEndpoint

@description('Managed Redis host (TLS port 10000), empty when the in-cluster Redis is used.')
output redisHost string = enableManagedRedis ? redis!.outputs.redisHost : ''

@description('redis.external.address of values-aks.yaml (host:10000), empty when the in-cluster Redis is used.')
output redisAddress string = enableManagedRedis ? '${redis!.outputs.redisHost}:${redis!.outputs.redisPort}' : ''

@description('Managed Redis database id that the backup CronJob exports (chart value backup.managedRedisDatabaseId), empty when the in-cluster Redis is used.')
output redisDatabaseId string = enableManagedRedis ? redis!.outputs.redisDatabaseId : ''

@description('CI runner cluster name (az aks get-credentials), empty unless enableCiRunners.')
output ciClusterName string = enableCiRunners ? ciRunners!.outputs.clusterName : ''

@description('Taint of the CI cluster\'s ci (engine) pool, key=value:effect, for the runner chart\'s tolerations; empty unless enableCiRunners.')
output ciEngineTaint string = enableCiRunners ? ciRunners!.outputs.engineTaint : ''

@description('Label of the CI cluster\'s ci (engine) pool, key=value, for the runner chart\'s nodeSelector; empty unless enableCiRunners.')
output ciEngineNodeLabel string = enableCiRunners ? ciRunners!.outputs.engineNodeLabel : ''

@description('Kubernetes namespace the TTS federated credential trusts.')
output ttsNamespace string = ttsNamespace

@description('Kubernetes service account the TTS federated credential trusts.')
output ttsServiceAccount string = ttsServiceAccount
