// PostgreSQL Flexible Server 16 with private access only (delegated subnet + private DNS
// zone), backups configured, zone-redundant HA where the environment asks for it.

@description('Azure region of the server.')
param location string

@description('Server name: 3-63 lowercase letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(63)
param serverName string

@description('Tags applied to every resource.')
param tags object

@description('Delegated subnet id (Microsoft.DBforPostgreSQL/flexibleServers).')
param delegatedSubnetId string

@description('VNet id to link the private DNS zone to.')
param vnetId string

@description('Compute SKU, e.g. Standard_B2ms (Burstable) or Standard_D2ds_v5 (GeneralPurpose).')
@minLength(8)
@maxLength(40)
param skuName string

@description('Compute tier matching skuName. Zone-redundant HA needs GeneralPurpose or MemoryOptimized.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string

@description('Storage size in GiB.')
@allowed([
  32
  64
  128
  256
  512
  1024
])
param storageSizeGB int

@description('Zone-redundant high availability (standby in another zone).')
param highAvailability bool

@description('Backup retention in days.')
@minValue(7)
@maxValue(35)
param backupRetentionDays int

@description('Geo-redundant backups (paired region); fixed at creation.')
param geoRedundantBackup bool

@description('Administrator login name.')
@minLength(1)
@maxLength(63)
param administratorLogin string

@description('Administrator password (also stored in Key Vault as tts-database-password).')
@secure()
@minLength(16)
@maxLength(128)
param administratorPassword string

@description('Database TTS uses (chart value postgresDatabase).')
@minLength(1)
@maxLength(63)
param databaseName string

resource dnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: '${serverName}.private.postgres.database.azure.com'
  location: 'global'
  tags: tags
}

resource dnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: dnsZone
  name: 'postgres-vnet'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: serverName
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: '16'
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorPassword
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: 'Disabled'
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: geoRedundantBackup ? 'Enabled' : 'Disabled'
    }
    highAvailability: {
      mode: highAvailability ? 'ZoneRedundant' : 'Disabled'
    }
    network: {
      delegatedSubnetResourceId: delegatedSubnetId
      privateDnsZoneArmResourceId: dnsZone.id
      publicNetworkAccess: 'Disabled'
    }
  }
  dependsOn: [
    dnsLink
  ]
}

// TTS connects over TLS (sslmode=require in its DSN); keep the server enforcing it.
resource requireTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'on'
    source: 'user-override'
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

@description('Server FQDN (chart value postgresHost).')
output postgresHost string = server.properties.fullyQualifiedDomainName

@description('Database name (chart value postgresDatabase).')
output postgresDatabase string = database.name
