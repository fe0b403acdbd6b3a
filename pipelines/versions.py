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
# Its tag's commit and committer date (UTC), read from the upstream repository: the
# defaults of Dockerfile.tts, which verifies them after cloning. Bump with TTS_VERSION.
TTS_COMMIT: Final = "32b3f88e3232e7282ffc29c51d259d9c331ee8c9"
TTS_COMMIT_DATE: Final = "2024-09-05T14:43:11Z"
# The release one schema migration older (3.32.0 adds 20240806000000_user_rights): the
# real-server suite's rollback across a migration (TTN_LW_STACK_PREVIOUS).
TTS_PREVIOUS_VERSION: Final = "3.31.1"

# Kubernetes minor version of the AKS clusters (bicep/main.bicep kubernetesVersion): the
# chart is rendered and validated for it, and the host helm is built with it as default.
KUBE_VERSION: Final = "1.34"
# The Kubernetes release of the kind node image below, and of the API-server suite's
# control plane in CI (kube-apiserver, kube-controller-manager and the etcd its kubeadm
# expects), downloaded there from dl.k8s.io and etcd's releases.
KUBE_RELEASE: Final = "1.34.0"
ETCD_VERSION: Final = "3.6.4"

# Host tools built from their Go modules by scripts/test (tools/go.mod), and the same
# versions of the container images the Dagger functions run them in.
HELM_VERSION: Final = "3.19.0"
KUBECONFORM_VERSION: Final = "0.7.0"
ACTIONLINT_VERSION: Final = "1.7.7"

# Azure CLI container (mcr.microsoft.com/azure-cli) for provision/lint-bicep, and the
# Bicep CLI it installs. Tag not verifiable offline: confirm on first networked run.
AZURE_CLI_VERSION: Final = "2.91.0"
BICEP_VERSION: Final = "0.46.1"

# Base images of the TTS image build (`dagger call build` and Dockerfile.tts). Go must
# satisfy lorawan-stack's go.mod (go 1.21 at v3.32.0); Node runs the console build.
# Tags not verifiable offline (no registry here): digests are added once resolvable.
GO_IMAGE: Final = "golang:1.23.12-bookworm"
NODE_IMAGE: Final = "node:20.19.5-bookworm"
RUNTIME_IMAGE: Final = "alpine:3.20.3"

# uv: installs the locked environments, on the host (scripts/test) and in containers.
UV_VERSION: Final = "0.13.9"

# Python image for the Dagger module runtime (ci/pyproject.toml) and the smoke-probe image.
PYTHON_IMAGE: Final = "python:3.11.14-slim-bookworm"

# Image scanner (aquasec/trivy). Tag not verifiable offline.
TRIVY_VERSION: Final = "0.67.2"

# kind and its node image for the e2e cluster. The node image and digest are kind
# v0.30.0's own default (sigs.k8s.io/kind pkg/apis/config/defaults/image.go), which is
# Kubernetes 1.34 = KUBE_VERSION.
KIND_VERSION: Final = "0.30.0"
KIND_NODE_IMAGE: Final = (
    "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"
)
# The chart's in-cluster Redis and PostgreSQL (values.yaml; publish imports them into ACR),
# also the migration's PostgreSQL 16 client tools and its throw-away servers.
REDIS_IMAGE: Final = "redis:7.2.11-alpine"
POSTGRES_IMAGE: Final = "postgres:16.10-alpine"

# The CRDs the chart's custom resources are checked against (pipelines/crds.py), as Go
# modules: the Secrets Store CSI driver (AKS's Key Vault add-on), the Prometheus operator
# (ServiceMonitor), the Gateway API (HTTPRoute, AKS app routing).
SECRETS_STORE_CSI_VERSION: Final = "1.5.4"
PROMETHEUS_OPERATOR_VERSION: Final = "0.85.0"
GATEWAY_API_VERSION: Final = "1.3.0"

# Supply chain (pipelines/signing.py): cosign signs and verifies, oras attaches the SBOM.
# Built from their Go modules, by go_install in the Dagger functions and from
# tools/supplychain/go.mod on the host.
COSIGN_VERSION: Final = "2.6.5"
ORAS_VERSION: Final = "1.3.6"

# Docker-in-Dagger engine that kind runs its node container in. Tag not verifiable offline.
DOCKER_DIND_IMAGE: Final = "docker:28.5.1-dind"
