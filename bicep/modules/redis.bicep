// Optional Azure Managed Redis (Microsoft.Cache/redisEnterprise) for TTS, reached through a
// private endpoint. TTS needs Redis >= 6.2 without Redis Cluster, so the database uses
// clusteringPolicy NoCluster; clients connect with TLS on port 10000. (Azure Cache for Redis
// Enterprise, the older product on the same resource type, retires 2027-03-31: use the
// Balanced_/MemoryOptimized_/ComputeOptimized_ SKUs of Azure Managed Redis.)

@description('Azure region of the cache.')
param location string

@description('Cache name: 1-60 letters, digits and hyphens, globally unique.')
@minLength(1)
@maxLength(60)
param redisName string

@description('Tags applied to every resource.')
param tags object

@description('Azure Managed Redis SKU.')
@allowed([
  'Balanced_B0'
  'Balanced_B1'
  'Balanced_B3'
  'Balanced_B5'
  'MemoryOptimized_M10'
  'ComputeOptimized_X3'
])
param skuName string

@description('Replicate across two nodes (needed for the SLA).')
param highAvailability bool

@description('Append-only file persistence, fsync every second: a node failure loses at most ~1 s of writes instead of the whole cache.')
param persistAof bool

@description('Subnet id for the cache private endpoint.')
param privateEndpointSubnetId string

@description('VNet id to link the privatelink.redis.azure.net zone to.')
param vnetId string

@description('Key Vault that receives the access key as secret tts-redis-password.')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('When the Redis secret expires (ISO 8601 date-time).')
@minLength(20)
@maxLength(25)
param secretsExpireOn string

@description('Principal id of the TTS workload identity: the backup CronJob exports the database with it.')
param ttsPrincipalId string

resource cache 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: redisName
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
    publicNetworkAccess: 'Disabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cache
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'NoCluster'
    evictionPolicy: 'NoEviction'
    accessKeysAuthentication: 'Enabled'
    persistence: {
      aofEnabled: persistAof
      aofFrequency: '1s'
      rdbEnabled: false
    }
  }
}

resource dnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: 'privatelink.redis.azure.net'
  location: 'global'
  tags: tags
}

resource dnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: dnsZone
  name: 'redis-vnet'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: '${redisName}-pe'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: privateEndpointSubnetId
    }
    privateLinkServiceConnections: [
      {
        name: 'redis'
        properties: {
          privateLinkServiceId: cache.id
          groupIds: [
            'redisEnterprise'
          ]
        }
      }
    ]
  }
}

resource endpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'redis'
        properties: {
          privateDnsZoneId: dnsZone.id
        }
      }
    ]
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource redisPassword 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'tts-redis-password'
  properties: {
    value: database.listKeys().primaryKey
    contentType: 'text/plain'
    attributes: {
      enabled: true
      exp: dateTimeToEpoch(secretsExpireOn)
    }
  }
}

// The backup CronJob (TTS's workload identity) snapshots the cache with the database's ARM
// export (POST <database id>/export, a SAS of the backup container), then polls the
// Azure-AsyncOperation URL it answers with: /subscriptions/<sub>/providers/Microsoft.Cache/
// locations/<region>/operationsStatus/<id>. No built-in role is this narrow, so this one may
// export the database, read it, and read that status; not list keys, write or import.
// Assigned on the resource group, not the database: the status URL lies outside the database,
// and ARM lets a caller track an async operation only with rights at the resource group level
// ("Track asynchronous Azure operations", Permission for tracking async status). This resource
// group holds this one cache.
resource exporterRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'tts-managed-redis-exporter')
  properties: {
    roleName: 'TTS Managed Redis exporter (${resourceGroup().name})'
    description: 'Export the Azure Managed Redis database to blob storage and follow the export; nothing else.'
    type: 'customRole'
    permissions: [
      {
        actions: [
          'Microsoft.Cache/redisEnterprise/databases/export/action'
          'Microsoft.Cache/redisEnterprise/databases/read'
          'Microsoft.Cache/locations/operationsStatus/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource exporter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, ttsPrincipalId, exporterRole.id)
  properties: {
    description: 'The backup CronJob exports Managed Redis into the backup container and waits for the export.'
    principalId: ttsPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: exporterRole.id
  }
}

@description('Redis host name; TTS connects with TLS to <host>:10000.')
output redisHost string = cache.properties.hostName

@description('Redis TLS port.')
output redisPort int = database.properties.port

@description('Database resource id (chart value backup.managedRedisDatabaseId): the backup CronJob exports it.')
output redisDatabaseId string = database.id
