"""Backups of The Things Stack's state in the storage account, and the restore drill."""

import re
from typing import Final

from pipelines.backup.manifest import BackupError

# The variable holding a storage access token a pipeline already has (else the pod's
# workload identity signs in): the CLI's contract with whoever runs it.
TOKEN_ENV: Final = "AZURE_STORAGE_ACCESS_TOKEN"  # noqa: S105 - a variable's name

_ACCOUNT_URL: Final = re.compile(r"^https?://[^/\s?#]+(/[A-Za-z0-9]+)?/?$")


def check_account_url(account_url: str) -> None:
    """A storage account's blob endpoint (Azurite's: host:port/account), before any request."""
    if not _ACCOUNT_URL.match(account_url):
        raise BackupError(
            f"--account-url {account_url!r} is not a storage account's blob endpoint: give "
            "https://ACCOUNT.blob.core.windows.net"
        )
