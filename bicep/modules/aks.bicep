// AKS Automatic on our own VNet. On API 2026-04-01 an Automatic cluster needs no
// agentPoolProfiles: AKS runs the system pool itself (hostedSystemProfile) and node
// autoprovisioning creates the user nodes in nodeSubnetID.

@description('Azure region of the cluster.')
param location string

@description('Cluster name (AKS_CLUSTER_NAME).')
@minLength(1)
@maxLength(63)
param clusterName string

@description('Tags applied to the cluster.')
param tags object

@description('Resource id of the cluster user-assigned identity (BYO VNet requires one).')
param clusterIdentityId string

@description('API server subnet id (delegated, at least /28).')
param apiServerSubnetId string

@description('Subnet id for the AKS-managed system nodes.')
param systemNodeSubnetId string

@description('Subnet id for the autoprovisioned user nodes.')
param nodeSubnetId string

@description('Log Analytics workspace id for the Container Insights add-on.')
param logAnalyticsWorkspaceId string

@description('Kubernetes version (major.minor); AKS picks the newest patch.')
@minLength(4)
@maxLength(8)
param kubernetesVersion string

@description('Automatic-upgrade channel for Kubernetes versions.')
@allowed([
  'stable'
  'patch'
  'rapid'
])
param upgradeChannel string

@description('CIDRs allowed to reach the public API server; empty allows any (access still needs Entra ID: local accounts are disabled).')
param apiServerAuthorizedIpRanges array

@description('Service CIDR (must not overlap the VNet).')
param serviceCidr string

@description('DNS service IP, inside serviceCidr.')
param dnsServiceIP string

@description('Pod CIDR for Azure CNI Overlay (must not overlap the VNet or serviceCidr).')
param podCidr string

resource cluster 'Microsoft.ContainerService/managedClusters@2026-04-01' = {
  //checkov:skip=CKV_AZURE_8: the kubeDashboard add-on was retired (Kubernetes 1.19+) and is never installed; the API no longer offers it
  //checkov:skip=CKV_AZURE_168: no agentPoolProfiles on Automatic; node autoprovisioning with Azure CNI Overlay sets max pods (250) itself
  //checkov:skip=CKV_AZURE_172: rotation is enabled; add-on config values are strings in the API ('true'), which the check does not accept
  //checkov:skip=CKV_AZURE_226: node autoprovisioning picks the OS disk per node (ephemeral where the VM size allows); there is no agent pool to set
  //checkov:skip=CKV_AZURE_227: encryption at host is a per-node-pool setting; Automatic has no agentPoolProfiles (enable it in the Karpenter AKSNodeClass if required)
  name: clusterName
  location: location
  tags: tags
  sku: {
    name: 'Automatic'
    tier: 'Standard'
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${clusterIdentityId}': {}
    }
  }
  properties: {
    dnsPrefix: clusterName
    kubernetesVersion: kubernetesVersion
    enableRBAC: true
    disableLocalAccounts: true
    aadProfile: {
      managed: true
      enableAzureRBAC: true
    }
    apiServerAccessProfile: {
      subnetId: apiServerSubnetId
      enableVnetIntegration: true
      authorizedIPRanges: empty(apiServerAuthorizedIpRanges) ? null : apiServerAuthorizedIpRanges
    }
    hostedSystemProfile: {
      nodeSubnetID: nodeSubnetId
      systemNodeSubnetID: systemNodeSubnetId
    }
    nodeProvisioningProfile: {
      mode: 'Auto'
    }
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      networkDataplane: 'cilium'
      networkPolicy: 'cilium'
      loadBalancerSku: 'standard'
      // The NAT gateway on the node subnets (network.bicep) carries all egress.
      outboundType: 'userAssignedNATGateway'
      podCidr: podCidr
      serviceCidr: serviceCidr
      dnsServiceIP: dnsServiceIP
    }
    autoUpgradeProfile: {
      upgradeChannel: upgradeChannel
      nodeOSUpgradeChannel: 'NodeImage'
    }
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
      imageCleaner: {
        enabled: true
        intervalHours: 168
      }
    }
    ingressProfile: {
      webAppRouting: {
        enabled: true
      }
    }
    addonProfiles: {
      azureKeyvaultSecretsProvider: {
        enabled: true
        config: {
          enableSecretRotation: 'true'
          rotationPollInterval: '2m'
        }
      }
      azurepolicy: {
        enabled: true
      }
      omsagent: {
        enabled: true
        config: {
          logAnalyticsWorkspaceResourceID: logAnalyticsWorkspaceId
          useAADAuth: 'true'
        }
      }
    }
    azureMonitorProfile: {
      metrics: {
        enabled: true
        kubeStateMetrics: {
          metricLabelsAllowlist: ''
          metricAnnotationsAllowList: ''
        }
      }
    }
  }
}

@description('Cluster name.')
output clusterName string = cluster.name

@description('Cluster resource id.')
output clusterId string = cluster.id

@description('OIDC issuer URL for workload identity federation.')
output oidcIssuerUrl string = cluster.properties.oidcIssuerProfile.issuerURL

@description('Object id of the kubelet identity (gets AcrPull).')
output kubeletObjectId string = cluster.properties.identityProfile.kubeletidentity.objectId

@description('The read-only node resource group AKS manages.')
output nodeResourceGroup string = cluster.properties.nodeResourceGroup
