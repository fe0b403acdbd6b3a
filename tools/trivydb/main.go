// Command trivydb writes a small Trivy vulnerability database (trivy.db + metadata.json)
// with trivy-db's own API, so that air-gapped scans (`--skip-db-update --offline-scan`)
// can be tested for real without downloading Trivy's DB. The engine test suite uses it.
//
//	trivydb -out DIR [-platform "debian 12"] [-advisory SRCPKG:FIXED:VULN-ID:SEVERITY ...]
//
// A platform with "::" is a language ecosystem's bucket, e.g. "go::GitHub Security Advisory
// Go" for Go modules (the package is the module path, FIXED its first fixed version).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy-db/pkg/types"
	bolt "go.etcd.io/bbolt"
)

type advisories []string

func (a *advisories) String() string     { return strings.Join(*a, ",") }
func (a *advisories) Set(v string) error { *a = append(*a, v); return nil }

func main() {
	out := flag.String("out", "", "directory to write trivy.db and metadata.json into")
	platform := flag.String("platform", "debian 12", "advisory bucket, as Trivy names an OS release")
	var entries advisories
	flag.Var(&entries, "advisory", "SRCPKG:FIXED:VULN-ID:SEVERITY (repeatable)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "trivydb: -out is required")
		os.Exit(2)
	}
	if err := write(*out, *platform, entries); err != nil {
		fmt.Fprintln(os.Stderr, "trivydb:", err)
		os.Exit(1)
	}
}

func write(dir, platform string, entries []string) error {
	if err := db.Init(dir); err != nil {
		return err
	}
	defer db.Close()
	dbc := db.Config{}
	err := dbc.BatchUpdate(func(tx *bolt.Tx) error {
		source := types.DataSource{ID: "debian", Name: "Debian Security Tracker", URL: "https://salsa.debian.org/security-tracker-team/security-tracker"}
		language := strings.Contains(platform, "::")
		if language {
			source = types.DataSource{ID: "ghsa", Name: "GitHub Security Advisory", URL: "https://github.com/advisories"}
		}
		if err := dbc.PutDataSource(tx, platform, source); err != nil {
			return err
		}
		for _, entry := range entries {
			parts := strings.Split(entry, ":")
			if len(parts) != 4 {
				return fmt.Errorf("advisory %q is not SRCPKG:FIXED:VULN-ID:SEVERITY", entry)
			}
			pkg, fixed, id, severity := parts[0], parts[1], parts[2], parts[3]
			// Bucket path platform -> package, key the vulnerability ID, as trivy-db's
			// GetAdvisories reads it. Language advisories carry version ranges instead.
			advisory := types.Advisory{FixedVersion: fixed}
			if language {
				advisory = types.Advisory{VulnerableVersions: []string{"< " + fixed}, PatchedVersions: []string{fixed}}
			}
			if err := dbc.PutAdvisory(tx, []string{platform, pkg}, id, advisory); err != nil {
				return err
			}
			vuln := types.Vulnerability{Title: "tts-ci test advisory", Severity: severity}
			if err := dbc.PutVulnerability(tx, id, vuln); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	return metadata.NewClient(dir).Update(metadata.Metadata{
		Version: db.SchemaVersion, NextUpdate: now.Add(24 * time.Hour), UpdatedAt: now, DownloadedAt: now,
	})
}
