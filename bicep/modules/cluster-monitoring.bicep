// Wires the cluster to the monitoring created by monitoring.bicep: data collection rule
// associations (a Bicep deployment does not get these implicitly, unlike az aks create),
// Prometheus recording rule groups, including the TTS-specific ones the dashboards read, and
// the alert rules on the scheduled backups.

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

@description('Action group the alert rules notify; empty: alerts only show in Azure Monitor.')
param actionGroupId string

@description('Kubernetes namespace of the TTS release, where the backup CronJob runs.')
@minLength(1)
@maxLength(63)
param ttsNamespace string

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

// The chart's backup CronJob in the release namespace, and the Jobs it starts, named
// <CronJob>-<scheduled minute> (by hand: any other suffix).
var backupCronJob = 'tts-thethingsstack-backup'
var backupCronJobSelector = 'namespace="${ttsNamespace}", cronjob="${backupCronJob}"'
var backupJobSelector = 'namespace="${ttsNamespace}", job_name=~"${backupCronJob}-.+"'
var alertActions = empty(actionGroupId) ? [] : [
  {
    actionGroupId: actionGroupId
  }
]

// kube-state-metrics series. kube_job_failed and kube_job_status_start_time are in managed
// Prometheus's minimal ingestion profile; kube_cronjob_status_last_successful_time and
// kube_cronjob_created are not, and bicep/ama-metrics-settings-configmap.yaml adds them
// (docs/bicep.md, Backups). Without it the second rule never fires and the first one also
// keeps firing for failures a later backup has made good.
resource backupAlerts 'Microsoft.AlertsManagement/prometheusRuleGroups@2023-03-01' = {
  name: '${namePrefix}-backup-alerts'
  location: location
  tags: tags
  properties: {
    description: 'Scheduled TTS backups (PostgreSQL, Redis, pictures) that fail or stop.'
    scopes: [
      prometheusWorkspaceId
      cluster.id
    ]
    clusterName: cluster.name
    enabled: true
    interval: 'PT1M'
    rules: [
      {
        // A Job whose Failed condition is true (retries used up), started after the last
        // successful backup (or with none yet), so the alert resolves once a backup succeeds.
        // Not kube_job_status_failed: it counts failed pods, including ones a retry recovered.
        alert: 'TTSBackupJobFailed'
        expression: '(kube_job_failed{${backupJobSelector}, condition="true"} == 1) and on (cluster, namespace, job_name) (kube_job_status_start_time{${backupJobSelector}} > on (cluster, namespace) group_left () (max by (cluster, namespace) (kube_cronjob_status_last_successful_time{${backupCronJobSelector}}) or on (cluster, namespace) (0 * max by (cluster, namespace) (kube_job_status_start_time{${backupJobSelector}}))))'
        for: 'PT5M'
        severity: 2
        labels: {
          component: 'backup'
        }
        annotations: {
          summary: 'TTS backup Job {{ $labels.job_name }} failed'
          description: 'Backup Job {{ $labels.job_name }} in namespace {{ $labels.namespace }} failed and no backup has succeeded since. Its logs: kubectl logs -n {{ $labels.namespace }} job/{{ $labels.job_name }}.'
        }
        enabled: true
        resolveConfiguration: {
          autoResolved: true
          timeToResolve: 'PT10M'
        }
        actions: alertActions
      }
      {
        // Daily backups: 26 hours leave two for a slow run. Also fires when the CronJob has
        // existed that long without ever succeeding, suspended or not.
        alert: 'TTSBackupMissing'
        expression: '(time() - max by (cluster, namespace, cronjob) (kube_cronjob_status_last_successful_time{${backupCronJobSelector}}) > 26 * 3600) or ((time() - max by (cluster, namespace, cronjob) (kube_cronjob_created{${backupCronJobSelector}}) > 26 * 3600) unless on (cluster, namespace, cronjob) kube_cronjob_status_last_successful_time{${backupCronJobSelector}})'
        for: 'PT15M'
        severity: 1
        labels: {
          component: 'backup'
        }
        annotations: {
          summary: 'No successful TTS backup for more than 26 hours'
          description: 'CronJob {{ $labels.cronjob }} in namespace {{ $labels.namespace }} has not completed a backup for {{ $value }} seconds.'
        }
        enabled: true
        resolveConfiguration: {
          autoResolved: true
          timeToResolve: 'PT10M'
        }
        actions: alertActions
      }
    ]
  }
}
