// Blob storage for TTS uploads (profile and end-device pictures). TTS writes with its
// workload identity (Storage Blob Data Contributor) and links the pictures by URL in the
// Console, so browsers must read them anonymously: publicBlobRead enables anonymous read of
// single blobs in this one container (never container listing). Set it false if you serve
// pictures another way; nothing else in the account is public.
// Backups (PostgreSQL dump, Redis RDB, pictures) go to a second, never public container that
// a lifecycle rule empties after backupRetentionDays and that, with backupImmutable, is
// write-once (WORM) for as long (docs/bicep.md, Backups).

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

@description('Blob container for backups (chart value backup.container); never public.')
@minLength(3)
@maxLength(63)
param backupContainerName string

@description('Days a backup is kept: the lifecycle rule deletes older blobs of the backup container, and with backupImmutable they are write-once for as long.')
@minValue(7)
@maxValue(3650)
param backupRetentionDays int

@description('Time-based retention (WORM) on the backup container for backupRetentionDays, created unlocked.')
param backupImmutable bool

@description('The backup container\'s retention policy has been locked by hand: leave it alone (the API only writes unlocked policies).')
param backupImmutabilityLocked bool

@description('Principal id of the TTS workload identity (Storage Blob Data Contributor).')
param ttsPrincipalId string

@description('Principal id of the CI identity: it reads the backups for the nightly restore drill (Storage Blob Data Reader on the backup container).')
param githubPrincipalId string

@description('Days deleted blobs and containers stay recoverable.')
@minValue(1)
@maxValue(365)
param deleteRetentionDays int

var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var blobDataReaderRoleId = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'

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

// No point-in-time restore and no last-access tracking: both are incompatible with the backup
// container's immutability policy. Soft delete is compatible (WORM blobs cannot be soft
// deleted before their period ends) and keeps lifecycle deletions recoverable for a while.
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

// Never public, whatever publicBlobRead says. TTS's identity writes here too (the role below
// is account-wide), which is why prod makes the container write-once.
resource backupContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: backupContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Container-level WORM: blobs can be created and read but neither overwritten nor deleted
// until backupRetentionDays after their creation. Deployed unlocked (Bicep cannot lock it);
// locking is the deliberate manual step in docs/bicep.md, after which backupImmutabilityLocked
// keeps deployments from rewriting a policy the API no longer accepts writes to.
resource backupImmutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (backupImmutable && !backupImmutabilityLocked) {
  parent: backupContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: backupRetentionDays
    allowProtectedAppendWrites: false
  }
}

// The account's one lifecycle policy: backups expire by age. By creation, not modification:
// the WORM period counts from creation too, so a blob is never due for deletion while still
// protected, and a later write to a blob (possible where the container is not WORM) cannot
// postpone its expiry. Microsoft lists lifecycle Delete as unsupported in immutable containers:
// docs/bicep.md (Backups) says how prod is kept within retention regardless.
resource backupLifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-backups'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${backupContainerName}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: backupRetentionDays
                }
              }
            }
          }
        }
      ]
    }
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

// The nightly restore drill reads backups, on this one container only: CI can neither write
// nor delete them, nor read the pictures.
resource ciBackupReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(backupContainer.id, githubPrincipalId, blobDataReaderRoleId)
  scope: backupContainer
  properties: {
    description: 'The nightly restore drill reads the newest backup.'
    principalId: githubPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataReaderRoleId)
  }
}

@description('Storage account name (chart value storageAccountName).')
output storageAccountName string = account.name

@description('Upload container name (chart value blobContainerName).')
output blobContainerName string = container.name

@description('Backup container name (chart value backup.container).')
output backupContainerName string = backupContainer.name

@description('Public base URL of the upload container (TTS bucket URL for pictures).')
output blobContainerUrl string = '${account.properties.primaryEndpoints.blob}${container.name}'
