// prod: zone-redundant PostgreSQL HA, geo-redundant backups, ZRS storage, zonal IPs, 90-day
// write-once (WORM) scheduled backups.
// Secrets come from the environment (see main.dev.bicepparam for the variable names).
using './main.bicep'

param environmentName = 'prod'
param namePrefix = 'tts-prod'
param githubRepository = readEnvironmentVariable('GITHUB_REPOSITORY')
param githubEnvironment = 'production'
param postgresSkuName = 'Standard_D2ds_v5'
param postgresSkuTier = 'GeneralPurpose'
param postgresStorageSizeGB = 128
param enableManagedRedis = true
param grafanaSku = 'Standard'
param enableCiRunners = false
param backupRetentionDays = 90
param backupImmutable = true
param secretsExpireOn = '2027-06-30T00:00:00Z'
param postgresAdminPassword = readEnvironmentVariable('TTS_POSTGRES_PASSWORD')
param cookieHashKey = readEnvironmentVariable('TTS_COOKIE_HASH_KEY')
param cookieBlockKey = readEnvironmentVariable('TTS_COOKIE_BLOCK_KEY')
param clusterKey = readEnvironmentVariable('TTS_CLUSTER_KEY')
param ttsAdminPassword = readEnvironmentVariable('TTS_ADMIN_PASSWORD')
param consoleClientSecret = readEnvironmentVariable('TTS_CONSOLE_CLIENT_SECRET')
