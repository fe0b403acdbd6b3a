"""Move an existing Things Stack's state (PostgreSQL Identity Server database, Redis) to the
AKS-side stores: run.py is the migration, postgres.py and redis.py its two halves,
report.py what is compared, __main__ the Redis steps as a command."""
