// Key Vault (RBAC mode, purge protection) holding the TTS secrets, reachable from the cluster
// through a private endpoint; the TTS identity reads them via the Secrets Store CSI driver.

@description('Azure region of the vault.')
param location string

@description('Vault name (chart value keyVaultName): 3-24 alphanumerics and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('Tags applied to every resource.')
param tags object

@description('Days a deleted vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionDays int

@description('Subnet id for the vault private endpoint.')
param privateEndpointSubnetId string

@description('VNet id to link the privatelink.vaultcore.azure.net zone to.')
param vnetId string

@description('Principal id of the TTS workload identity (Key Vault Secrets User).')
param ttsPrincipalId string

@description('PostgreSQL administrator password (secret tts-database-password).')
@secure()
@minLength(16)
@maxLength(128)
param postgresPassword string

@description('TTS HTTP cookie hash key: 64 random bytes as 128 hex characters (secret tts-cookie-hash-key).')
@secure()
@minLength(128)
@maxLength(128)
param cookieHashKey string

@description('TTS HTTP cookie block key: 32 random bytes as 64 hex characters (secret tts-cookie-block-key).')
@secure()
@minLength(64)
@maxLength(64)
param cookieBlockKey string

@description('Password of the TTS admin user (secret tts-admin-password).')
@secure()
@minLength(12)
@maxLength(128)
param adminPassword string

@description('OAuth client secret of the TTS Console (secret tts-console-oauth-client-secret).')
@secure()
@minLength(16)
@maxLength(128)
param consoleClientSecret string

@description('TTS cluster key: 32 random bytes as 64 hex characters (secret tts-cluster-keys).')
@secure()
@minLength(64)
@maxLength(64)
param clusterKey string

@description('When the secrets expire (ISO 8601 date-time, e.g. 2027-06-30T00:00:00Z); rotate them before it.')
@minLength(20)
@maxLength(25)
param secretsExpireOn string

var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
// Names match the chart's secrets.keyVault.objects defaults.
var secrets = [
  {
    name: 'tts-database-password'
    value: postgresPassword
  }
  {
    name: 'tts-cookie-hash-key'
    value: cookieHashKey
  }
  {
    name: 'tts-cookie-block-key'
    value: cookieBlockKey
  }
  {
    name: 'tts-admin-password'
    value: adminPassword
  }
  {
    name: 'tts-console-oauth-client-secret'
    value: consoleClientSecret
  }
  {
    name: 'tts-cluster-keys'
    value: clusterKey
  }
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_189: ARM writes the secrets through the public endpoint with the trusted-services bypass; everything else is denied by the firewall and the cluster uses the private endpoint
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enablePurgeProtection: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionDays
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource vaultSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for secret in secrets: {
    parent: vault
    name: secret.name
    properties: {
      value: secret.value
      contentType: 'text/plain'
      attributes: {
        enabled: true
        exp: dateTimeToEpoch(secretsExpireOn)
      }
    }
  }
]

resource dnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: 'privatelink.vaultcore.azure.net'
  location: 'global'
  tags: tags
}

resource dnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: dnsZone
  name: 'vault-vnet'
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
  name: '${keyVaultName}-pe'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: privateEndpointSubnetId
    }
    privateLinkServiceConnections: [
      {
        name: 'vault'
        properties: {
          privateLinkServiceId: vault.id
          groupIds: [
            'vault'
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
        name: 'vault'
        properties: {
          privateDnsZoneId: dnsZone.id
        }
      }
    ]
  }
}

resource ttsSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, ttsPrincipalId, secretsUserRoleId)
  scope: vault
  properties: {
    description: 'TTS pods read their secrets through the Secrets Store CSI driver.'
    principalId: ttsPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
  }
}

@description('Vault name (chart value keyVaultName).')
output keyVaultName string = vault.name

@description('Vault URI.')
output keyVaultUri string = vault.properties.vaultUri
