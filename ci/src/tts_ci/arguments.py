"""The arguments several functions share, each documented once (its --help text)."""

from typing import Annotated

import dagger
from dagger import Doc

from pipelines import scan

Version = Annotated[
    str,
    Doc("The Things Stack release to use, e.g. 3.32.0 (a release tag without the leading v)"),
]
TtsSource = Annotated[
    dagger.Directory | None,
    Doc("A lorawan-stack git checkout to build instead of the release `version`"),
]
Severity = Annotated[str, Doc("Comma-separated severities that fail the gate")]
DEFAULT_SEVERITY = ",".join(scan.DEFAULT_SEVERITIES)
IgnoreUnfixed = Annotated[bool, Doc("Gate only on findings that have a fixed version")]
IgnoreFile = Annotated[dagger.File | None, Doc("A .trivyignore of accepted CVEs")]
VulnerabilityDb = Annotated[
    dagger.Directory | None,
    Doc("Air-gapped: a Trivy DB directory (trivy.db, metadata.json) to scan with, no download"),
]
Deadline = Annotated[int, Doc("Seconds to wait for rollout and smoke probes")]
RegistryMirror = Annotated[
    str,
    Doc(
        "A Docker Hub mirror for the kind node image and the chart's Redis/PostgreSQL: "
        "https://host[:port] (http:// if plain HTTP), e.g. your ACR with them imported"
    ),
]
NodeImage = Annotated[str, Doc("kind node image (default: kind's own for the pinned Kubernetes)")]
AccountUrl = Annotated[
    str, Doc("The storage account's blob endpoint, https://ACCOUNT.blob.core.windows.net")
]
BackupContainer = Annotated[str, Doc("Blob container of the backups (Bicep backupContainerName)")]
StorageToken = Annotated[
    dagger.Secret,
    Doc(
        "An Entra access token for Azure Storage, e.g. env://TOKEN with TOKEN=$(az account "
        "get-access-token --resource https://storage.azure.com --query accessToken -o tsv)"
    ),
]
BackupId = Annotated[str, Doc("The backup to use, e.g. 20261205T020000Z (default: the newest)")]
MaxAge = Annotated[str, Doc("Fail when the backup is older than this: 90m, 26h, 2d")]
CaCertificate = Annotated[
    dagger.File | None,
    Doc("PEM CA certificate to trust besides the public roots (a TLS-inspecting proxy)"),
]
