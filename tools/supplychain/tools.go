//go:build tools

// Package supplychain pins the signing and attachment tools the test suite runs for real
// (cosign, oras; the same versions as pipelines/versions.py) and builds ociregistry, the
// OCI 1.1 test registry. A module of its own: their dependencies would move helm's.
package supplychain

import (
	_ "github.com/sigstore/cosign/v2/cmd/cosign"
	_ "oras.land/oras/cmd/oras"
)
