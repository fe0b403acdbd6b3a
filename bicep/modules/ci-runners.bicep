// Optional CI runner cluster (main.bicep deploys it only when enableCiRunners): a small AKS
// Standard cluster, apart from the AKS Automatic application cluster, for self-hosted GitHub
// Actions runners and the Dagger engine they share on each node (charts/ci-runners).
//
// Why not the application cluster: AKS Automatic enforces Deployment Safeguards with the
// Baseline Pod Security Standard, which denies privileged containers, and the Dagger engine
// runs privileged. Excluding a namespace there would put a privileged pod that runs
// pull-request code, root on its node, next to TTS, its Key Vault mounts and its kubelet
// identity. This cluster has neither safeguards nor the Azure Policy add-on.
//
// Network: an AKS-managed VNet, not a subnet of network.bicep's VNet. The runners need the
// internet (GitHub, container registries) and nothing private; sharing the VNet would give
// privileged CI pods a route to PostgreSQL and the Key Vault private endpoint. (network.bicep
// also declares its subnets inline, so a subnet added from here would be removed by its next
// deployment.) Azure CNI Overlay with Cilium, as on the application cluster.
//
// Identity: none granted here. The cluster's system-assigned identity manages its own node
// resource group (AKS grants that itself); the runner pods get no Azure identity, because
// ci.yml never signs in to Azure; the kubelet gets no AcrPull, because nothing is pulled from
// the project's ACR (the engine comes from registry.dagger.io, the runner from ghcr.io). An
// admin installs the runner charts once (docs/bicep.md), so GitHub Actions gets no role on
// this cluster either.

@description('Azure region of the cluster.')
param location string

@description('Cluster name (ciClusterName output).')
@minLength(1)
@maxLength(63)
param clusterName string

@description('Tags applied to the cluster.')
param tags object

@description('Kubernetes version (major.minor); AKS picks the newest patch, and the patch channel keeps it current.')
@minLength(4)
@maxLength(8)
param kubernetesVersion string

@description('CIDRs allowed to reach the API server; empty allows any (sign-in is Entra-only: local accounts are disabled).')
param apiServerAuthorizedIpRanges array

@description('VM size of the ci (engine) pool: a Ddsv5 size, whose local temp disk holds the ephemeral OS disk and with it the engine cache.')
@allowed([
  'Standard_D4ds_v5'
  'Standard_D8ds_v5'
  'Standard_D16ds_v5'
])
param engineVmSize string

@description('Fewest ci nodes the autoscaler keeps; each kept node keeps its warm engine cache (0: no idle cost, a cold cache after every scale-down).')
@minValue(0)
@maxValue(10)
param engineMinNodes int

@description('Most ci nodes the autoscaler adds (runner jobs in parallel on separate caches).')
@minValue(1)
@maxValue(10)
param engineMaxNodes int

// Temp (resource) disk of each allowed size in GiB, from Microsoft's Ddsv5 size table. An
// ephemeral OS disk on the temp disk must be no larger than it ("Ephemeral OS disks for Azure
// VMs", size requirements: the OS disk's size should be less than or equal to the temp size
// of the VM size), so the ci pool's OS disk takes all of it: the engine cache at
// /var/lib/dagger (a hostPath on the OS disk), container images and kubelet data share it.
var engineTempDiskGB = {
  Standard_D4ds_v5: 150
  Standard_D8ds_v5: 300
  Standard_D16ds_v5: 600
}
// Standard_D2ds_v5 has a 75 GiB temp disk; 64 GiB of it holds the system nodes' OS.
var systemVmSize = 'Standard_D2ds_v5'
var systemOsDiskGB = 64

// The ci pool's taint and label: the runner chart's engine DaemonSet and runner pods tolerate
// the one and select the other, and nothing else lands on these nodes.
var engineTaintKey = 'tts-ci/engine'
var engineTaintValue = 'true'
var engineTaintEffect = 'NoSchedule'
var engineLabelKey = 'tts-ci/pool'
var engineLabelValue = 'engine'

// maxPods 50 on both pools, not Azure CNI Overlay's 250: from Kubernetes 1.29 AKS reserves
// 20 MB of memory per possible pod (+50 MB) for the kubelet ("Node resource reservations"),
// 5 GB on a ci node at 250. A ci node runs its daemonsets, one engine and a few runner pods.
var maxPods = 50

resource cluster 'Microsoft.ContainerService/managedClusters@2026-04-01' = {
  //checkov:skip=CKV_AZURE_4: no Container Insights on the CI cluster; job logs live in GitHub Actions, and a chatty engine's logs would be billed per GB in the production workspace
  //checkov:skip=CKV_AZURE_8: the kubeDashboard add-on was retired (Kubernetes 1.19+) and is never installed; the API no longer offers it
  //checkov:skip=CKV_AZURE_172: no Secrets Store CSI driver on the CI cluster: the runners read no Key Vault secrets, so there is no rotation to set
  //checkov:skip=CKV_AZURE_227: encryption at host needs the subscription feature Microsoft.Compute/EncryptionAtHost registered first; CI nodes hold public sources and build cache only, wiped with the node
  name: clusterName
  location: location
  tags: tags
  // AKS Standard ('Base'), not Automatic: see the top of this file. Standard tier: uptime SLA
  // and the larger control plane.
  sku: {
    name: 'Base'
    tier: 'Standard'
  }
  identity: {
    type: 'SystemAssigned'
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
      authorizedIPRanges: empty(apiServerAuthorizedIpRanges) ? null : apiServerAuthorizedIpRanges
    }
    agentPoolProfiles: [
      {
        // CoreDNS, metrics-server, Cilium and the other add-ons. The runner controller and
        // listener should tolerate CriticalAddonsOnly and run here: on the ci pool they would
        // keep a large node up for a small pod.
        name: 'system'
        mode: 'System'
        type: 'VirtualMachineScaleSets'
        osType: 'Linux'
        osSKU: 'Ubuntu'
        vmSize: systemVmSize
        osDiskType: 'Ephemeral'
        osDiskSizeGB: systemOsDiskGB
        kubeletDiskType: 'OS'
        maxPods: maxPods
        enableAutoScaling: true
        count: 1
        minCount: 1
        maxCount: 2
        nodeTaints: [
          'CriticalAddonsOnly=true:NoSchedule'
        ]
      }
      {
        // The engine pool. Ephemeral OS: the OS disk, and with it the engine cache at
        // /var/lib/dagger, lives on the VM's local temp SSD: fast (no remote disk and its
        // IOPS cap in the path) and thrown away with the node (scale-down, node image upgrade,
        // reimage), so a cache never outlives its node and is never shared between nodes.
        // Nothing on it needs keeping.
        name: 'ci'
        mode: 'User'
        type: 'VirtualMachineScaleSets'
        osType: 'Linux'
        osSKU: 'Ubuntu'
        vmSize: engineVmSize
        osDiskType: 'Ephemeral'
        osDiskSizeGB: engineTempDiskGB[engineVmSize]
        kubeletDiskType: 'OS'
        maxPods: maxPods
        enableAutoScaling: true
        count: engineMinNodes
        minCount: engineMinNodes
        maxCount: engineMaxNodes
        nodeTaints: [
          '${engineTaintKey}=${engineTaintValue}:${engineTaintEffect}'
        ]
        nodeLabels: {
          '${engineLabelKey}': engineLabelValue
        }
      }
    ]
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      networkDataplane: 'cilium'
      networkPolicy: 'cilium'
      loadBalancerSku: 'standard'
      outboundType: 'loadBalancer'
    }
    autoUpgradeProfile: {
      upgradeChannel: 'patch'
      nodeOSUpgradeChannel: 'NodeImage'
    }
    // On, as on the application cluster, so that a future job can be given an identity
    // without recreating the cluster; no federated credential trusts this issuer today.
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
  }
}

@description('CI cluster name (az aks get-credentials).')
output clusterName string = cluster.name

@description('CI cluster resource id (scope for an admin\'s Azure Kubernetes Service RBAC role).')
output clusterId string = cluster.id

@description('Taint of the ci (engine) pool as key=value:effect; the engine DaemonSet and runner pods tolerate it.')
output engineTaint string = '${engineTaintKey}=${engineTaintValue}:${engineTaintEffect}'

@description('Label of the ci (engine) pool as key=value; the engine DaemonSet and runner pods select it (nodeSelector).')
output engineNodeLabel string = '${engineLabelKey}=${engineLabelValue}'
