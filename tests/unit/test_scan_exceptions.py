"""Reviewed scan exceptions (pipelines/scan_exceptions.py) in the gate (scan.summarize), on a
report shaped like Trivy's for the pinned release's ttn-lw-stack: golang.org/x/crypto v0.27.0
(its go.mod) with CVE-2024-45337, CRITICAL, fixed in 0.31.0."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pipelines import scan, scan_exceptions
from tests.support.paths import REPO_ROOT

BEFORE, AFTER = datetime.date(2026, 12, 6), datetime.date(2027, 4, 1)


def report(*vulns: dict[str, Any]) -> dict[str, Any]:
    return {"SchemaVersion": 2, "Results": [
        {"Target": "usr/bin/ttn-lw-stack", "Class": "lang-pkgs", "Type": "gobinary",
         "Vulnerabilities": list(vulns)},
    ]}  # fmt: skip


X_CRYPTO = {
    "VulnerabilityID": "CVE-2024-45337", "PkgName": "golang.org/x/crypto",
    "InstalledVersion": "v0.27.0", "FixedVersion": "0.31.0", "Severity": "CRITICAL",
    "Title": "golang.org/x/crypto/ssh: Misuse of ServerConfig.PublicKeyCallback",
}  # fmt: skip


def repo_exceptions() -> tuple[scan_exceptions.ReviewedException, ...]:
    return scan_exceptions.parse((REPO_ROOT / scan_exceptions.EXCEPTIONS_FILE).read_text())


def test_without_the_exception_the_default_build_fails_naming_module_and_versions() -> None:
    summary = scan.summarize(report(X_CRYPTO), today=BEFORE)
    assert not summary.passed()
    assert "CRITICAL CVE-2024-45337 golang.org/x/crypto v0.27.0 -> 0.31.0" in summary.render()


def test_the_repository_exception_lets_it_through_and_the_report_warns() -> None:
    summary = scan.summarize(report(X_CRYPTO), exceptions=repo_exceptions(), today=BEFORE)
    assert summary.passed()
    text = summary.render()
    assert "scan gate passed: no HIGH/CRITICAL with a fix" in text
    assert "warning: accepted by reviewed exception: CRITICAL CVE-2024-45337" in text
    assert "golang.org/x/crypto@v0.27.0), expires 2027-03-31: lorawan-stack v3.32.1" in text


def test_once_expired_the_exception_fails_the_gate_naming_the_entry() -> None:
    summary = scan.summarize(report(X_CRYPTO), exceptions=repo_exceptions(), today=AFTER)
    assert not summary.passed()
    text = summary.render()
    assert "CRITICAL CVE-2024-45337 golang.org/x/crypto v0.27.0 -> 0.31.0" in text
    assert (
        "scan gate failed: reviewed exception CVE-2024-45337 (golang.org/x/crypto@v0.27.0) "
        "expired on 2027-03-31: review it, then renew its expired_at or remove it"
    ) in text


def test_an_expired_entry_fails_even_when_its_finding_is_gone() -> None:
    summary = scan.summarize(report(), exceptions=repo_exceptions(), today=AFTER)
    assert not summary.passed()
    assert "reviewed exception CVE-2024-45337" in summary.render()


def test_an_exception_for_one_version_does_not_cover_another() -> None:
    newer = {**X_CRYPTO, "InstalledVersion": "v0.28.0"}
    summary = scan.summarize(report(newer), exceptions=repo_exceptions(), today=BEFORE)
    assert not summary.passed()
    assert not summary.excepted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("vulnerabilities:\n  - id: CVE-1\n    expired_at: 2027-01-01\n",
         "entry 1 (CVE-1): needs `statement:`"),
        ("vulnerabilities:\n  - id: CVE-1\n    statement: why\n",
         "entry 1 (CVE-1): needs `expired_at:` as a date (YYYY-MM-DD); every exception expires"),
        ("vulnerabilities:\n  - id: CVE-1\n    statement: why\n    expired_at: soon\n",
         "needs `expired_at:` as a date"),
        ("vulnerabilities:\n  - statement: why\n", "entry 1: needs `id:`"),
        ("vulnerabilities:\n  - id: CVE-1\n    statement: why\n    expired_at: 2027-01-01\n"
         "    purls: [golang.org/x/crypto]\n", "is not pkg:<type>/<name>[@<version>]"),
        ("vulnerabilities: {}\n", "expected `vulnerabilities:` with a list"),
        ("vulnerabilities: [\n", ".trivyignore.yaml is not YAML"),
    ],
)  # fmt: skip
def test_a_broken_exceptions_file_is_refused_naming_the_entry(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^\.trivyignore\.yaml") as refused:
        scan_exceptions.parse(text)
    assert message in str(refused.value)
