// Command ociregistry serves an in-memory OCI 1.1 registry with the referrers API
// (go-containerregistry's pkg/registry), the test peer for publish's SBOM referrer and
// signature and for deploy's verification. ACR answers the same API; the distribution
// registry and `crane registry serve` do not (they fall back to tag schema).
//
//	ociregistry -address 127.0.0.1:5000
package main

import (
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:5000", "host:port to listen on (plain HTTP)")
	flag.Parse()
	handler := registry.New(
		registry.WithReferrersSupport(true),
		registry.Logger(log.New(os.Stderr, "ociregistry: ", log.LstdFlags)),
	)
	log.Printf("ociregistry: serving on %s", *address)
	log.Fatal(http.ListenAndServe(*address, handler))
}
