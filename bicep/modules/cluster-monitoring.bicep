// Wires the cluster to the monitoring created by monitoring.bicep: data collection rule
// associations (a Bicep deployment does not get these implicitly, unlike az aks create) and
// Prometheus recording rule groups, including the TTS-specific ones the dashboards read.

@description('Azure region of the cluster and the workspace.')
param location string

@description('Short name prefix, e.g. tts-dev; used to name the resources.')
@minLength(3)
@maxLength(20)
param namePrefix string

@description('Tags applied to every resource.')
param tags object

@description('Name of the AKS cluster in this resource group.')
@minLength(1)
@maxLength(63)
param clusterName string

@description('Azure Monitor workspace id (managed Prometheus).')
param prometheusWorkspaceId string

@description('Prometheus data collection rule id.')
param prometheusDcrId string

@description('Prometheus data collection endpoint id.')
param dataCollectionEndpointId string

@description('Container Insights data collection rule id.')
param containerInsightsDcrId string

resource cluster 'Microsoft.ContainerService/managedClusters@2026-04-01' existing = {
  name: clusterName
}

// The endpoint association must be named configurationAccessEndpoint.
resource dceAssociation 'Microsoft.Insights/dataCollectionRuleAssociations@2022-06-01' = {
  name: 'configurationAccessEndpoint'
  scope: cluster
  properties: {
    description: 'Managed Prometheus configuration endpoint of the cluster.'
    dataCollectionEndpointId: dataCollectionEndpointId
  }
}

resource prometheusAssociation 'Microsoft.Insights/dataCollectionRuleAssociations@2022-06-01' = {
  name: '${namePrefix}-prometheus-dcra'
  scope: cluster
  properties: {
    description: 'Send the cluster metrics to managed Prometheus. Deleting it stops metric collection.'
    dataCollectionRuleId: prometheusDcrId
  }
}

resource containerInsightsAssociation 'Microsoft.Insights/dataCollectionRuleAssociations@2022-06-01' = {
  name: '${namePrefix}-ci-dcra'
  scope: cluster
  properties: {
    description: 'Send Container Insights data to Log Analytics.'
    dataCollectionRuleId: containerInsightsDcrId
  }
}

resource kubernetesRules 'Microsoft.AlertsManagement/prometheusRuleGroups@2023-03-01' = {
  name: '${namePrefix}-kubernetes-recording-rules'
  location: location
  tags: tags
  properties: {
    description: 'Kubernetes recording rules for the cluster dashboards.'
    scopes: [
      prometheusWorkspaceId
      cluster.id
    ]
    clusterName: cluster.name
    enabled: true
    interval: 'PT1M'
    rules: [
      {
        record: 'node_namespace_pod_container:container_cpu_usage_seconds_total:sum_irate'
        expression: 'sum by (cluster, namespace, pod, container) (irate(container_cpu_usage_seconds_total{job="cadvisor", image!=""}[5m]))'
      }
      {
        record: 'node_namespace_pod_container:container_memory_working_set_bytes'
        expression: 'container_memory_working_set_bytes{job="cadvisor", image!=""}'
      }
      {
        record: 'namespace_workload_pod:kube_pod_owner:relabel'
        expression: 'max by (cluster, namespace, workload, pod) (label_replace(kube_pod_owner{job="kube-state-metrics", owner_kind="ReplicaSet"}, "workload", "$1", "owner_name", "(.*)-[^-]+$"))'
      }
    ]
  }
}

// Names follow level:metric:operations; the TTS dashboard reads these.
resource ttsRules 'Microsoft.AlertsManagement/prometheusRuleGroups@2023-03-01' = {
  name: '${namePrefix}-tts-recording-rules'
  location: location
  tags: tags
  properties: {
    description: 'The Things Stack gateway server and API recording rules.'
    scopes: [
      prometheusWorkspaceId
      cluster.id
    ]
    clusterName: cluster.name
    enabled: true
    interval: 'PT1M'
    rules: [
      {
        record: 'protocol:ttn_lw_gs_uplink_received:rate5m'
        expression: 'sum by (protocol) (rate(ttn_lw_gs_uplink_received_total[5m]))'
      }
      {
        record: 'protocol:ttn_lw_gs_downlink_sent:rate5m'
        expression: 'sum by (protocol) (rate(ttn_lw_gs_downlink_sent_total[5m]))'
      }
      {
        record: 'type:ttn_lw_gs_io_udp_message_forwarded:rate5m'
        expression: 'sum by (type) (rate(ttn_lw_gs_io_udp_message_forwarded_total[5m]))'
      }
      {
        record: 'error:ttn_lw_gs_io_udp_message_dropped:rate5m'
        expression: 'sum by (error) (rate(ttn_lw_gs_io_udp_message_dropped_total[5m]))'
      }
      {
        record: 'grpc_service_code:grpc_server_handled:rate5m'
        expression: 'sum by (grpc_service, grpc_code) (rate(grpc_server_handled_total[5m]))'
      }
    ]
  }
}
