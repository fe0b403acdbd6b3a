// Blob storage for TTS uploads (profile and end-device pictures). TTS writes with its
// workload identity (Storage Blob Data Contributor) and links the pictures by URL in the
// Console, so browsers must read them anonymously: publicBlobRead enables anonymous read of
// single blobs in this one container (never container listing). Set it false if you serve
// pictures another way; nothing else in the account is public.

@description('Azure region of the account.')
param location string

@description('Storage account name (chart value storageAccountName): 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Tags applied to every resource.')
param tags object

@description('Replication SKU.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string

@description('Blob container for TTS uploads (chart value blobContainerName).')
@minLength(3)
@maxLength(63)
param containerName string

@description('Allow anonymous read of individual blobs in the upload container (TTS Console shows pictures by URL).')
param publicBlobRead bool

@description('Principal id of the TTS workload identity (Storage Blob Data Contributor).')
param ttsPrincipalId string

@description('Days deleted blobs and containers stay recoverable.')
@minValue(1)
@maxValue(365)
param deleteRetentionDays int

var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_59: public endpoint needed for the anonymous picture reads above; writes need Entra ID (shared keys disabled)
  //checkov:skip=CKV_AZURE_206: replication is the skuName parameter (ZRS in prod, LRS in dev)
  //checkov:skip=CKV_AZURE_35: default Allow is required for the anonymous picture reads from browsers; writes still need Entra ID
  //checkov:skip=CKV_AZURE_43: the name is computed in main.bicep (lowercase alphanumerics, 24 characters at most), which the check cannot evaluate
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: publicBlobRead
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: publicBlobRead ? 'Blob' : 'None'
  }
}

resource ttsBlobWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, ttsPrincipalId, blobDataContributorRoleId)
  scope: account
  properties: {
    description: 'TTS uploads pictures with its workload identity.'
    principalId: ttsPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
  }
}

@description('Storage account name (chart value storageAccountName).')
output storageAccountName string = account.name

@description('Upload container name (chart value blobContainerName).')
output blobContainerName string = container.name

@description('Public base URL of the upload container (TTS bucket URL for pictures).')
output blobContainerUrl string = '${account.properties.primaryEndpoints.blob}${container.name}'
