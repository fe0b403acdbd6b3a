"""The image scan as data: Trivy argv lists, and the gate computed from its JSON report.

One scan writes a complete JSON report (all severities, fixable or not; trivy's own
exit code stays 0). `trivy convert` turns that report into SARIF and a table, and the
gate runs here, in `summarize`, so that the reports exist even when the gate fails and
the gate and the reports can never disagree. An ignore file (accepted findings with a
reason) applies at scan time, so ignored findings are absent from reports and gate alike.
The repository's reviewed exceptions (scan_exceptions.py) apply here, in the gate: their
findings stay in the reports, the summary lists each one used, and an expired one fails.

Report format (`trivy image --format json`, SchemaVersion 2; trivy pkg/types/report.go,
vulnerability.go): {"Results": [{"Target", "Class", "Type", "Vulnerabilities":
[{"VulnerabilityID", "PkgName", "InstalledVersion", "FixedVersion", "Severity",
"Title", ...}]}]}. Both lists and FixedVersion are `omitempty`: absent (or null) when
empty, and FixedVersion absent means no fix is available.
"""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pipelines.scan_exceptions import ReviewedException
from pipelines.versions import TRIVY_VERSION

TRIVY_IMAGE: Final = f"aquasec/trivy:{TRIVY_VERSION}"
# Vulnerability DB and layer cache (trivy's default for root): a cache volume in Dagger.
TRIVY_CACHE_DIR: Final = "/root/.cache/trivy"
# Where an air-gapped scan finds the DB it is given (trivy.db + metadata.json).
TRIVY_DB_DIR: Final = f"{TRIVY_CACHE_DIR}/db"
# Trivy's severities, lowest first.
SEVERITIES: Final = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_SEVERITIES: Final = ("HIGH", "CRITICAL")
REPORT_FORMATS: Final = ("sarif", "table")
# The JSON report layout this module reads (trivy's current SchemaVersion).
SCHEMA_VERSION: Final = 2
# How many blocking findings render() lists before "... and N more".
RENDER_LIMIT: Final = 20


def parse_severities(text: str) -> tuple[str, ...]:
    """Parse a comma-separated severity list ("high,CRITICAL"), in trivy's order."""
    names = {part.strip().upper() for part in text.split(",") if part.strip()}
    valid = ", ".join(SEVERITIES)
    if not names:
        raise ValueError(f"no severity given: list one or more of {valid} (e.g. HIGH,CRITICAL)")
    unknown = sorted(names - set(SEVERITIES))
    if unknown:
        raise ValueError(f"unknown severity {', '.join(unknown)}: use one or more of {valid}")
    return tuple(s for s in SEVERITIES if s in names)


def _check_severities(severities: str | Iterable[str]) -> frozenset[str]:
    text = severities if isinstance(severities, str) else ",".join(severities)
    return frozenset(parse_severities(text))


def trivy_scan_argv(
    target: str,
    report_json: str,
    *,
    ignorefile: str | None = None,
    cache_dir: str = TRIVY_CACHE_DIR,
    offline: bool = False,
    sbom: bool = False,
) -> list[str]:
    """`trivy image` of an image tarball (docker save or OCI layout) into a JSON report, or
    with `sbom` `trivy sbom` of a CycloneDX SBOM (publish attaches one to every image).

    Vulnerabilities only, every severity, exit code 0 whatever is found: the gate is
    `summarize`, after the reports are written. `offline`: an air-gapped scan with the
    vulnerability DB already in `cache_dir`/db (Trivy's documented air-gap flags).
    """
    argv = [
        "trivy",
        *(["sbom", target] if sbom else ["image", "--input", target]),
        "--scanners",
        "vuln",
        "--format",
        "json",
        "--output",
        report_json,
        "--exit-code",
        "0",
        "--cache-dir",
        cache_dir,
        "--no-progress",
    ]
    if ignorefile is not None:
        argv += ["--ignorefile", ignorefile]
    if offline:
        argv += ["--skip-db-update", "--skip-java-db-update", "--offline-scan"]
    return argv


def trivy_convert_argv(report_json: str, fmt: str, output: str) -> list[str]:
    """`trivy convert` of the JSON report into SARIF (code scanning) or a text table."""
    if fmt not in REPORT_FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(REPORT_FORMATS)}")
    return ["trivy", "convert", "--format", fmt, "--output", output, report_json]


@dataclass(frozen=True)
class Finding:
    """One vulnerability of one package in one scan target."""

    vulnerability_id: str
    pkg_name: str
    installed_version: str
    fixed_version: str
    severity: str
    target: str
    title: str = ""

    def render(self) -> str:
        """`CRITICAL CVE-… pkg 1.0 -> 1.1 (target)`; `(no fix)` when none is known."""
        fix = self.fixed_version or "(no fix)"
        return (
            f"{self.severity} {self.vulnerability_id} {self.pkg_name} "
            f"{self.installed_version} -> {fix} ({self.target})"
        )


@dataclass(frozen=True)
class ScanSummary:
    """Findings per severity (all of them) and those that fail the gate."""

    counts: dict[str, int]
    blocking: list[Finding]
    severities: tuple[str, ...] = DEFAULT_SEVERITIES
    ignore_unfixed: bool = True
    # Findings the gate let through by a reviewed exception, and exceptions past their date.
    excepted: list[tuple[Finding, ReviewedException]] = field(default_factory=list)
    expired: list[ReviewedException] = field(default_factory=list)

    def passed(self) -> bool:
        """True when no finding blocks and no reviewed exception has expired."""
        return not self.blocking and not self.expired

    def render(self, limit: int = RENDER_LIMIT) -> str:
        """A short human summary: counts, the verdict, up to `limit` blocking findings, and
        every reviewed exception used or expired."""
        counts = ", ".join(f"{s}: {self.counts.get(s, 0)}" for s in reversed(SEVERITIES))
        scope = "/".join(self.severities) + (" with a fix" if self.ignore_unfixed else "")
        lines = [f"vulnerabilities: {counts}"]
        if self.passed():
            lines.append(f"scan gate passed: no {scope}")
        elif self.blocking:
            lines.append(f"scan gate failed: {len(self.blocking)} {scope}")
            lines += [f"  {finding.render()}" for finding in self.blocking[:limit]]
            if len(self.blocking) > limit:
                more = len(self.blocking) - limit
                lines.append(f"  ... and {more} more (see the table report)")
        for entry in self.expired:
            lines.append(
                f"scan gate failed: reviewed exception {entry.label} expired on "
                f"{entry.expires}: review it, then renew its expired_at or remove it "
                "(.trivyignore.yaml)"
            )
        for finding, entry in self.excepted:
            lines.append(f"warning: accepted by reviewed exception: {finding.render()}")
            lines.append(f"  {entry.render()}")
        return "\n".join(lines)


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return value if isinstance(value, str) else ""


def summarize(
    report: Mapping[str, Any],
    severities: str | Iterable[str] = DEFAULT_SEVERITIES,
    ignore_unfixed: bool = True,
    exceptions: Iterable[ReviewedException] = (),
    today: datetime.date | None = None,
) -> ScanSummary:
    """Count a trivy JSON report's vulnerabilities and pick those that fail the gate.

    Blocking: severity in `severities`, and (with `ignore_unfixed`) a FixedVersion, unless
    an unexpired reviewed exception matches it. Any expired exception fails the gate too.
    A missing severity counts as UNKNOWN, as trivy does.
    """
    today = today or datetime.datetime.now(datetime.UTC).date()
    reviewed = tuple(exceptions)
    expired = [entry for entry in reviewed if entry.expired(today)]
    valid = [entry for entry in reviewed if not entry.expired(today)]
    excepted: list[tuple[Finding, ReviewedException]] = []
    gate = _check_severities(severities)
    schema = report.get("SchemaVersion")
    if schema != SCHEMA_VERSION:
        raise ValueError(
            f"trivy report SchemaVersion is {schema!r}, not {SCHEMA_VERSION}: produce it with "
            f"`trivy image --format json` of trivy {TRIVY_VERSION}"
        )
    results = report.get("Results") or []
    if not isinstance(results, list) or not all(isinstance(r, Mapping) for r in results):
        raise ValueError("not a trivy JSON report: 'Results' is not a list of objects")
    counts = dict.fromkeys(SEVERITIES, 0)
    blocking: list[Finding] = []
    for result in results:
        vulns = result.get("Vulnerabilities") or []
        if not isinstance(vulns, list) or not all(isinstance(v, Mapping) for v in vulns):
            raise ValueError(
                f"not a trivy JSON report: 'Vulnerabilities' of {_text(result, 'Target')!r} "
                "is not a list of objects"
            )
        for vuln in vulns:
            severity = _text(vuln, "Severity").upper() or "UNKNOWN"
            counts[severity] = counts.get(severity, 0) + 1
            finding = Finding(
                vulnerability_id=_text(vuln, "VulnerabilityID"),
                pkg_name=_text(vuln, "PkgName"),
                installed_version=_text(vuln, "InstalledVersion"),
                fixed_version=_text(vuln, "FixedVersion"),
                severity=severity,
                target=_text(result, "Target"),
                title=_text(vuln, "Title"),
            )
            if severity in gate and (finding.fixed_version or not ignore_unfixed):
                match = next((e for e in valid if e.matches(
                    finding.vulnerability_id, finding.pkg_name, finding.installed_version
                )), None)  # fmt: skip
                if match is None:
                    blocking.append(finding)
                else:
                    excepted.append((finding, match))
    # Worst first, then stable by id and package.
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    blocking.sort(key=lambda f: (-rank.get(f.severity, 0), f.vulnerability_id, f.pkg_name))
    ordered = tuple(s for s in SEVERITIES if s in gate)
    return ScanSummary(counts, blocking, ordered, ignore_unfixed, excepted, expired)
