// Networking for The Things Stack on AKS Automatic: one VNet, a NAT gateway for egress and
// the Standard static public IP that the UDP 1700 LoadBalancer Service binds to.
// AKS Automatic's node resource group is read-only, so the UDP IP lives here, in the
// workload resource group, and the cluster identity gets Network Contributor on it.

@description('Azure region for every resource in this module.')
param location string

@description('Short name prefix, e.g. tts-dev; used to name the resources.')
@minLength(3)
@maxLength(20)
param namePrefix string

@description('Tags applied to every resource.')
param tags object

@description('VNet address space (one CIDR). The subnets below must fall inside it.')
param vnetAddressPrefix string

@description('API server subnet (AKS API Server VNet Integration): at least a /28, delegated to Microsoft.ContainerService/managedClusters.')
param apiServerSubnetPrefix string

@description('Subnet for the AKS-managed system nodes (hostedSystemProfile).')
param systemNodeSubnetPrefix string

@description('Subnet for the user nodes that node autoprovisioning creates.')
param nodeSubnetPrefix string

@description('Subnet delegated to PostgreSQL Flexible Server (private access).')
param postgresSubnetPrefix string

@description('Subnet for private endpoints (Key Vault, optional Managed Redis).')
param privateEndpointSubnetPrefix string

@description('Principal (object) id of the AKS cluster user-assigned identity; gets Network Contributor on the VNet and the UDP public IP.')
param clusterPrincipalId string

@description('Availability zones (strings, e.g. [\'1\', \'2\', \'3\']) for the zone-redundant public IPs; empty for regions without zones.')
param zones array

var networkContributorRoleId = '4d97b98b-1d4f-4787-a291-c67834d212e7'

resource natIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: '${namePrefix}-nat-pip'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Regional'
  }
  zones: zones
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: '${namePrefix}-nat'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: natIp.id
      }
    ]
  }
}

// One NSG for the node subnets: Azure's default rules (VNet and load-balancer traffic in,
// Internet in denied) plus the LoRaWAN Semtech UDP port the gateways send to.
resource nodeNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${namePrefix}-nodes-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'allow-https-ingress'
        properties: {
          description: 'HTTPS to the app-routing ingress controller (TTS console and APIs).'
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'Internet'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '443'
        }
      }
      {
        name: 'allow-lorawan-udp-1700'
        properties: {
          description: 'Semtech UDP packet forwarder traffic from LoRaWAN gateways to the TTS gateway server.'
          priority: 200
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Udp'
          sourceAddressPrefix: 'Internet'
          sourcePortRange: '*'
          destinationAddressPrefix: udpIp.properties.ipAddress
          destinationPortRange: '1700'
        }
      }
    ]
  }
}

// Subnets that need no inbound rules of their own share a deny-by-default NSG.
resource privateNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${namePrefix}-private-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: '${namePrefix}-vnet'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressPrefix
      ]
    }
    subnets: [
      {
        name: 'apiserver'
        properties: {
          addressPrefix: apiServerSubnetPrefix
          delegations: [
            {
              name: 'aks-apiserver'
              properties: {
                serviceName: 'Microsoft.ContainerService/managedClusters'
              }
            }
          ]
        }
      }
      {
        name: 'system-nodes'
        properties: {
          addressPrefix: systemNodeSubnetPrefix
          natGateway: {
            id: natGateway.id
          }
          networkSecurityGroup: {
            id: nodeNsg.id
          }
          // AKS adds this delegation to the managed system node subnet itself; declaring it
          // keeps a re-deployment of this VNet from trying to remove it.
          delegations: [
            {
              name: 'aks-system-nodes'
              properties: {
                serviceName: 'Microsoft.ContainerService/managedClusters'
              }
            }
          ]
        }
      }
      {
        name: 'nodes'
        properties: {
          addressPrefix: nodeSubnetPrefix
          natGateway: {
            id: natGateway.id
          }
          networkSecurityGroup: {
            id: nodeNsg.id
          }
        }
      }
      {
        name: 'postgres'
        properties: {
          addressPrefix: postgresSubnetPrefix
          networkSecurityGroup: {
            id: privateNsg.id
          }
          delegations: [
            {
              name: 'postgres-flexible'
              properties: {
                serviceName: 'Microsoft.DBforPostgreSQL/flexibleServers'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: privateNsg.id
          }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

// The Semtech UDP entry point: Standard SKU (required by the Standard load balancer that
// AKS creates), static so gateways can be configured once.
resource udpIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: '${namePrefix}-udp-pip'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Regional'
  }
  zones: zones
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource vnetNetworkContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vnet.id, clusterPrincipalId, networkContributorRoleId)
  scope: vnet
  properties: {
    description: 'AKS Automatic cluster identity: API server subnet, node subnets and node autoprovisioning.'
    principalId: clusterPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', networkContributorRoleId)
  }
}

// Scoped to the one public IP (not the whole resource group): the cloud provider only reads
// and joins this address when the UDP Service names it in azure-pip-name.
resource udpIpNetworkContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(udpIp.id, clusterPrincipalId, networkContributorRoleId)
  scope: udpIp
  properties: {
    description: 'AKS Automatic cluster identity: bind the UDP 1700 LoadBalancer Service to this static IP.'
    principalId: clusterPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', networkContributorRoleId)
  }
}

@description('VNet resource id.')
output vnetId string = vnet.id

@description('VNet name.')
output vnetName string = vnet.name

@description('API server subnet id.')
output apiServerSubnetId string = vnet.properties.subnets[0].id

@description('Managed system node subnet id.')
output systemNodeSubnetId string = vnet.properties.subnets[1].id

@description('User node subnet id.')
output nodeSubnetId string = vnet.properties.subnets[2].id

@description('PostgreSQL delegated subnet id.')
output postgresSubnetId string = vnet.properties.subnets[3].id

@description('Private endpoint subnet id.')
output privateEndpointSubnetId string = vnet.properties.subnets[4].id

@description('Name of the static public IP for UDP 1700 (chart value udpPublicIpName).')
output udpPublicIpName string = udpIp.name

@description('The static public IP address gateways send UDP 1700 to.')
output udpPublicIpAddress string = udpIp.properties.ipAddress
