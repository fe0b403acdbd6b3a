// Observability that exists before the cluster: Log Analytics (Container Insights), the Azure
// Monitor workspace (managed Prometheus), their data collection endpoint and rules, and
// Azure Managed Grafana reading the workspace, and the action group alerts notify (only when
// alertEmail is set). cluster-monitoring.bicep associates the rules with the cluster and adds
// the recording and alert rules once the cluster exists.

@description('Azure region for every resource in this module.')
param location string

@description('Short name prefix, e.g. tts-dev; used to name the resources.')
@minLength(3)
@maxLength(20)
param namePrefix string

@description('Tags applied to every resource.')
param tags object

@description('Log Analytics retention in days (Container Insights logs).')
@minValue(30)
@maxValue(730)
param logRetentionDays int

@description('Azure Managed Grafana SKU.')
@allowed([
  'Standard'
  'Essential'
])
param grafanaSku string

@description('Email address alerts are sent to; empty: no action group (alerts still show in Azure Monitor).')
@maxLength(254)
param alertEmail string

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource prometheus 'Microsoft.Monitor/accounts@2023-04-03' = {
  name: '${namePrefix}-prometheus'
  location: location
  tags: tags
  properties: {}
}

resource dce 'Microsoft.Insights/dataCollectionEndpoints@2022-06-01' = {
  name: '${namePrefix}-prometheus-dce'
  location: location
  tags: tags
  kind: 'Linux'
  properties: {
    networkAcls: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// Managed Prometheus: everything the cluster's metrics add-on scrapes goes to the workspace.
resource prometheusDcr 'Microsoft.Insights/dataCollectionRules@2022-06-01' = {
  name: '${namePrefix}-prometheus-dcr'
  location: location
  tags: tags
  kind: 'Linux'
  properties: {
    description: 'Managed Prometheus metrics of the TTS AKS cluster.'
    dataCollectionEndpointId: dce.id
    dataSources: {
      prometheusForwarder: [
        {
          name: 'PrometheusDataSource'
          streams: [
            'Microsoft-PrometheusMetrics'
          ]
          labelIncludeFilter: {}
        }
      ]
    }
    destinations: {
      monitoringAccounts: [
        {
          name: 'MonitoringAccount1'
          accountResourceId: prometheus.id
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          'Microsoft-PrometheusMetrics'
        ]
        destinations: [
          'MonitoringAccount1'
        ]
      }
    ]
  }
}

// Container Insights with managed-identity auth needs its own rule into Log Analytics.
resource containerInsightsDcr 'Microsoft.Insights/dataCollectionRules@2022-06-01' = {
  name: '${namePrefix}-ci-dcr'
  location: location
  tags: tags
  kind: 'Linux'
  properties: {
    description: 'Container Insights logs and inventory of the TTS AKS cluster.'
    dataSources: {
      extensions: [
        {
          name: 'ContainerInsightsExtension'
          extensionName: 'ContainerInsights'
          streams: [
            'Microsoft-ContainerInsights-Group-Default'
          ]
          extensionSettings: {
            dataCollectionSettings: {
              interval: '1m'
              namespaceFilteringMode: 'Off'
              enableContainerLogV2: true
            }
          }
        }
      ]
    }
    destinations: {
      logAnalytics: [
        {
          name: 'ciworkspace'
          workspaceResourceId: logs.id
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          'Microsoft-ContainerInsights-Group-Default'
        ]
        destinations: [
          'ciworkspace'
        ]
      }
    ]
  }
}

resource grafana 'Microsoft.Dashboard/grafana@2024-10-01' = {
  name: '${namePrefix}-grafana'
  location: location
  tags: tags
  sku: {
    name: grafanaSku
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    grafanaMajorVersion: '11'
    apiKey: 'Disabled'
    deterministicOutboundIP: 'Disabled'
    zoneRedundancy: 'Disabled'
    grafanaIntegrations: {
      azureMonitorWorkspaceIntegrations: [
        {
          azureMonitorWorkspaceResourceId: prometheus.id
        }
      ]
    }
  }
}

// Optional, so a deployment never needs an address; without one, fired alerts are listed in
// Azure Monitor (Alerts) and nobody is notified.
resource alertActionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-alerts'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take(replace(namePrefix, '-', ''), 12)
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var monitoringDataReaderRoleId = 'b0d8363b-8ddd-447d-831f-62ca05bff136'

resource grafanaReadsPrometheus 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(prometheus.id, grafana.id, monitoringDataReaderRoleId)
  scope: prometheus
  properties: {
    description: 'Managed Grafana queries the Azure Monitor workspace (managed Prometheus).'
    principalId: grafana.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringDataReaderRoleId)
  }
}

@description('Log Analytics workspace id (Container Insights).')
output logAnalyticsWorkspaceId string = logs.id

@description('Azure Monitor workspace id (managed Prometheus).')
output prometheusWorkspaceId string = prometheus.id

@description('Prometheus data collection rule id.')
output prometheusDcrId string = prometheusDcr.id

@description('Container Insights data collection rule id.')
output containerInsightsDcrId string = containerInsightsDcr.id

@description('Prometheus data collection endpoint id.')
output dataCollectionEndpointId string = dce.id

@description('Action group alert rules notify; empty when alertEmail is empty.')
output actionGroupId string = empty(alertEmail) ? '' : alertActionGroup!.id

@description('Grafana name (for az grafana dashboard import).')
output grafanaName string = grafana.name

@description('Grafana URL.')
output grafanaEndpoint string = grafana.properties.endpoint
