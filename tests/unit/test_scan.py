"""pipelines.scan: trivy argv lists, severity parsing, and the gate over a JSON report.

No trivy binary runs here: it is not a Go module these machines can build from the Go
module proxy and no image registry is reachable, so the argv lists are checked as data
and the gate is fed a report fixture. The fixture (data/trivy-image-report.json) follows
trivy's documented JSON layout, SchemaVersion 2 (aquasecurity/trivy pkg/types/report.go
Result and vulnerability.go DetectedVulnerability: Target/Class/Type, VulnerabilityID,
PkgName, InstalledVersion, FixedVersion omitted when no fix, Status, Severity, Title);
its CVE ids and packages are illustrative, not real findings.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from pipelines import scan

FIXTURE = Path(__file__).parent / "data" / "trivy-image-report.json"


@pytest.fixture
def report() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("high,CRITICAL", ("HIGH", "CRITICAL")),
        ("CRITICAL, high", ("HIGH", "CRITICAL")),
        ("medium", ("MEDIUM",)),
        ("LOW,LOW,", ("LOW",)),
        ("unknown,low,medium,high,critical", scan.SEVERITIES),
    ],
)
def test_parse_severities(text: str, expected: tuple[str, ...]) -> None:
    assert scan.parse_severities(text) == expected


def test_parse_severities_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown severity SEVERE: use one or more of UNKNOWN"):
        scan.parse_severities("high,severe")


@pytest.mark.parametrize("text", ["", " , ", ","])
def test_parse_severities_refuses_an_empty_list(text: str) -> None:
    with pytest.raises(ValueError, match="no severity given: list one or more of"):
        scan.parse_severities(text)


def test_scan_argv_writes_a_complete_json_report_and_never_gates() -> None:
    argv = scan.trivy_scan_argv("/work/image.tar", "/work/report.json")
    assert argv[:2] == ["trivy", "image"]
    assert argv[-1] == "--no-progress"  # the one boolean flag: CI logs, not a progress bar
    options = argv[2:-1]
    flags = dict(zip(options[::2], options[1::2], strict=True))
    assert flags["--input"] == "/work/image.tar"
    assert flags["--scanners"] == "vuln"
    assert flags["--format"] == "json"
    assert flags["--output"] == "/work/report.json"
    assert flags["--exit-code"] == "0"
    assert flags["--cache-dir"] == scan.TRIVY_CACHE_DIR
    # Every severity, unfixed included, goes into the report: the gate filters later.
    assert "--severity" not in argv
    assert "--ignore-unfixed" not in argv
    assert "--ignorefile" not in argv


def test_scan_argv_passes_the_ignore_file() -> None:
    argv = scan.trivy_scan_argv("i.tar", "r.json", ignorefile="/src/.trivyignore", cache_dir="/c")
    assert argv[argv.index("--ignorefile") + 1] == "/src/.trivyignore"
    assert argv[argv.index("--cache-dir") + 1] == "/c"


@pytest.mark.parametrize("fmt", ["sarif", "table"])
def test_convert_argv(fmt: str) -> None:
    assert scan.trivy_convert_argv("r.json", fmt, f"out.{fmt}") == [
        "trivy",
        "convert",
        "--format",
        fmt,
        "--output",
        f"out.{fmt}",
        "r.json",
    ]


def test_convert_argv_refuses_other_formats() -> None:
    with pytest.raises(ValueError, match=r"unknown report format 'html': use one of sarif, table"):
        scan.trivy_convert_argv("r.json", "html", "out.html")


def test_summarize_counts_every_severity(report: dict[str, Any]) -> None:
    summary = scan.summarize(report, ("HIGH", "CRITICAL"), ignore_unfixed=True)
    assert summary.counts == {"UNKNOWN": 1, "LOW": 1, "MEDIUM": 1, "HIGH": 2, "CRITICAL": 1}


def test_default_gate_blocks_fixable_high_and_critical_only(report: dict[str, Any]) -> None:
    summary = scan.summarize(report)
    assert not summary.passed()
    # The unfixed busybox HIGH does not block; worst first.
    assert [(f.vulnerability_id, f.pkg_name, f.target) for f in summary.blocking] == [
        ("CVE-2099-10001", "libcrypto3", "tts.tar (alpine 3.20.3)"),
        ("CVE-2099-20001", "stdlib", "bin/ttn-lw-stack"),
    ]
    first = summary.blocking[0]
    assert (first.installed_version, first.fixed_version, first.severity) == (
        "3.3.2-r0",
        "3.3.2-r1",
        "CRITICAL",
    )


def test_unfixed_findings_block_when_asked(report: dict[str, Any]) -> None:
    summary = scan.summarize(report, ["HIGH"], ignore_unfixed=False)
    assert sorted(f.pkg_name for f in summary.blocking) == ["busybox", "stdlib"]


def test_severities_may_be_given_as_text(report: dict[str, Any]) -> None:
    summary = scan.summarize(report, "unknown", ignore_unfixed=True)
    assert [f.vulnerability_id for f in summary.blocking] == ["GHSA-xxxx-yyyy-zzzz"]


def test_a_clean_report_passes(report: dict[str, Any]) -> None:
    summary = scan.summarize(report, ["CRITICAL"], ignore_unfixed=True)
    assert [f.vulnerability_id for f in summary.blocking] == ["CVE-2099-10001"]
    report["Results"][0]["Vulnerabilities"] = None  # trivy omits or nulls empty lists
    report["Results"][1]["Vulnerabilities"] = []
    summary = scan.summarize(report, ["CRITICAL"], ignore_unfixed=True)
    assert summary.passed()
    assert sum(summary.counts.values()) == 0
    assert scan.summarize({"SchemaVersion": 2}).passed()  # no Results at all


def test_missing_severity_counts_as_unknown() -> None:
    report = {
        "SchemaVersion": 2,
        "Results": [{"Target": "t", "Vulnerabilities": [{"VulnerabilityID": "X-1"}]}],
    }
    summary = scan.summarize(report, ["UNKNOWN"], ignore_unfixed=False)
    assert summary.counts["UNKNOWN"] == 1
    assert summary.blocking[0].severity == "UNKNOWN"


def test_summarize_refuses_bad_severities(report: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown severity SEVERE"):
        scan.summarize(report, ["SEVERE"])
    with pytest.raises(ValueError, match="no severity given"):
        scan.summarize(report, [])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"Results": []}, r"SchemaVersion is None, not 2: produce it with `trivy image"),
        ({"SchemaVersion": 1, "Results": []}, "SchemaVersion is 1, not 2"),
        ({"SchemaVersion": 2, "Results": {"a": 1}}, "'Results' is not a list of objects"),
        ({"SchemaVersion": 2, "Results": ["x"]}, "'Results' is not a list of objects"),
        (
            {"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": "x"}]},
            "'Vulnerabilities' of 't' is not a list of objects",
        ),
    ],
)
def test_summarize_refuses_what_is_not_a_trivy_report(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scan.summarize(bad)


def test_render_failed(report: dict[str, Any]) -> None:
    text = scan.summarize(report).render()
    assert text.splitlines() == [
        "vulnerabilities: CRITICAL: 1, HIGH: 2, MEDIUM: 1, LOW: 1, UNKNOWN: 1",
        "scan gate failed: 2 HIGH/CRITICAL with a fix",
        "  CRITICAL CVE-2099-10001 libcrypto3 3.3.2-r0 -> 3.3.2-r1 (tts.tar (alpine 3.20.3))",
        "  HIGH CVE-2099-20001 stdlib v1.23.12 -> 1.24.8, 1.25.2 (bin/ttn-lw-stack)",
    ]


def test_render_passed_and_unfixed(report: dict[str, Any]) -> None:
    assert scan.summarize(report, ["MEDIUM"], ignore_unfixed=True).render().splitlines()[1] == (
        "scan gate failed: 1 MEDIUM with a fix"
    )
    unfixed = scan.summarize(report, ["LOW"], ignore_unfixed=False).render()
    assert "  LOW CVE-2099-10004 zlib 1.3.1-r1 -> (no fix) (tts.tar (alpine 3.20.3))" in unfixed
    report["Results"] = []
    assert scan.summarize(report).render().splitlines()[1] == (
        "scan gate passed: no HIGH/CRITICAL with a fix"
    )


def test_render_stops_after_the_limit() -> None:
    vulns = [
        {"VulnerabilityID": f"CVE-2099-{i:05}", "PkgName": "p", "Severity": "HIGH"}
        for i in range(5)
    ]
    summary = scan.summarize(
        {"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": vulns}]},
        ["HIGH"],
        ignore_unfixed=False,
    )
    lines = summary.render(limit=3).splitlines()
    assert len(lines) == 2 + 3 + 1
    assert lines[-1] == "  ... and 2 more (see the table report)"
