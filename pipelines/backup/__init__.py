"""Backups of The Things Stack's state in the storage account, and the restore drill."""

from typing import Final

# The variable holding a storage access token a pipeline already has (else the pod's
# workload identity signs in): the CLI's contract with whoever runs it.
TOKEN_ENV: Final = "AZURE_STORAGE_ACCESS_TOKEN"  # noqa: S105 - a variable's name
