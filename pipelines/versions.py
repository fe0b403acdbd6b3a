"""Every pinned version of tts-ci, in one place.

The Dagger functions, the Go-built host tools (tools/go.mod), dagger.json and the
test suite all read or are checked against these values (tests/unit/test_pins.py),
so a version bump is one edit here plus the file the test names.
"""

from typing import Final

# Dagger: engineVersion in dagger.json and the dagger-io SDK in pyproject.toml.
DAGGER_VERSION: Final = "0.21.11"

# The Things Stack release that `build` produces by default and that the tests pin.
TTS_VERSION: Final = "3.32.0"

# Kubernetes minor version of the AKS clusters (bicep/main.bicep kubernetesVersion): the
# chart is rendered and validated for it, and the host helm is built with it as default.
KUBE_VERSION: Final = "1.34"

# Host tools built from their Go modules by scripts/test (tools/go.mod), and the same
# versions of the container images the Dagger functions run them in.
HELM_VERSION: Final = "3.19.0"
KUBECONFORM_VERSION: Final = "0.7.0"
ACTIONLINT_VERSION: Final = "1.7.7"

# Azure CLI container (mcr.microsoft.com/azure-cli) for provision/lint-bicep, and the
# Bicep CLI it installs. Tag not verifiable offline: confirm on first networked run.
AZURE_CLI_VERSION: Final = "2.91.0"
BICEP_VERSION: Final = "0.46.1"
