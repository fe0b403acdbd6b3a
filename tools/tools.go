//go:build tools

// Package tools pins the Go-built command-line tools that the test suite runs for
// real (the same versions the pipeline's containers use; see pipelines/versions.py).
// scripts/test builds them into .tools/bin with `go install` from this module.
package tools

import (
	_ "github.com/rhysd/actionlint/cmd/actionlint"
	_ "github.com/yannh/kubeconform/cmd/kubeconform"
	_ "helm.sh/helm/v3/cmd/helm"
	_ "sigs.k8s.io/kind"
)
