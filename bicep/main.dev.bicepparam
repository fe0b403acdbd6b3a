// dev: smallest sizes, no HA, the smallest Managed Redis (Balanced_B0), 14-day deletable backups.
// Secrets come from the environment, never argv:
//   export TTS_POSTGRES_PASSWORD=... TTS_COOKIE_HASH_KEY=$(openssl rand -hex 64) \
//          TTS_COOKIE_BLOCK_KEY=$(openssl rand -hex 32) \
//          TTS_CLUSTER_KEY=$(openssl rand -hex 32) TTS_ADMIN_PASSWORD=... \
//          TTS_CONSOLE_CLIENT_SECRET=... GITHUB_REPOSITORY=owner/name
using './main.bicep'

param environmentName = 'dev'
param namePrefix = 'tts-dev'
param githubRepository = readEnvironmentVariable('GITHUB_REPOSITORY')
param githubEnvironment = 'dev'
param postgresSkuName = 'Standard_B2ms'
param postgresSkuTier = 'Burstable'
param postgresStorageSizeGB = 32
param enableManagedRedis = true
param redisSkuName = 'Balanced_B0'
param grafanaSku = 'Essential'
param enableCiRunners = false
param backupRetentionDays = 14
param backupImmutable = false
param secretsExpireOn = '2027-06-30T00:00:00Z'
param postgresAdminPassword = readEnvironmentVariable('TTS_POSTGRES_PASSWORD')
param cookieHashKey = readEnvironmentVariable('TTS_COOKIE_HASH_KEY')
param cookieBlockKey = readEnvironmentVariable('TTS_COOKIE_BLOCK_KEY')
param clusterKey = readEnvironmentVariable('TTS_CLUSTER_KEY')
param ttsAdminPassword = readEnvironmentVariable('TTS_ADMIN_PASSWORD')
param consoleClientSecret = readEnvironmentVariable('TTS_CONSOLE_CLIENT_SECRET')
