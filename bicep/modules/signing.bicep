// The image-signing key (ES256, what cosign verifies) in a vault of its own. publish signs
// through Key Vault's sign operation, so the private key never leaves the vault. This vault
// holds no secrets, so its public endpoint can take the sign requests of GitHub-hosted
// runners (whose addresses are not fixed): access is by Entra RBAC alone, and the CI
// identity may read the key and sign with it, nothing more (docs/supply-chain.md).

@description('Azure region of the vault.')
param location string

@description('Vault name: 3-24 alphanumerics and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param vaultName string

@description('Tags applied to every resource.')
param tags object

@description('Days a deleted vault or key stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionDays int

@description('Principal id of the CI identity: reads the key and signs with it.')
param signerPrincipalId string

@description('When the key expires (ISO 8601 date-time); rotate it before, then re-sign or keep the old version for verification.')
@minLength(20)
@maxLength(25)
param keyExpiresOn string

var keyName = 'image-signing'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109: holds one non-exportable signing key and no secrets; GitHub-hosted runners sign from addresses that are not fixed, so access is by Entra RBAC (sign and read only)
  //checkov:skip=CKV_AZURE_189: as above, the public endpoint is how the runners reach the sign operation
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'premium' // HSM-protected keys
    }
    enableRbacAuthorization: true
    enablePurgeProtection: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionDays
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource signingKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  parent: vault
  name: keyName
  tags: tags
  properties: {
    kty: 'EC-HSM'
    curveName: 'P-256'
    keyOps: [
      'sign'
      'verify'
    ]
    attributes: {
      enabled: true
      exportable: false
      exp: dateTimeToEpoch(keyExpiresOn)
    }
    // New versions expire too, and the owners hear of it 30 days before. No automatic
    // rotation: deploy verifies against the current version, so a rotation is a planned
    // step (docs/supply-chain.md), not a surprise.
    rotationPolicy: {
      attributes: {
        expiryTime: 'P2Y'
      }
      lifetimeActions: [
        {
          trigger: {
            timeBeforeExpiry: 'P30D'
          }
          action: {
            type: 'notify'
          }
        }
      ]
    }
  }
}

// Key Vault Crypto User would also let the identity encrypt, decrypt, wrap and unwrap:
// this role is read and sign only, assigned on the one key.
resource signerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'tts-image-signer')
  properties: {
    roleName: 'TTS image signer (${resourceGroup().name})'
    description: 'Read the image-signing key and sign with it; nothing else.'
    type: 'customRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.KeyVault/vaults/keys/read'
          'Microsoft.KeyVault/vaults/keys/sign/action'
        ]
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource signer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(signingKey.id, signerPrincipalId, signerRole.id)
  scope: signingKey
  properties: {
    description: 'publish signs the image digests it pushes; deploy reads the public key to verify them.'
    principalId: signerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: signerRole.id
  }
}

@description('Key id without a version (SIGNING_KEY_ID): publish signs with, and deploy verifies against, the current version.')
output signingKeyId string = '${vault.properties.vaultUri}keys/${keyName}'

@description('Vault of the signing key.')
output signingVaultName string = vault.name
