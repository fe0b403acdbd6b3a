"""Reviewed scan exceptions: findings that only upstream can fix, accepted for a while.

The repository's `.trivyignore.yaml` (Trivy's own format, so `trivy --ignorefile` reads it
too) lists them. Unlike Trivy, every entry here must say why (`statement`) and until when
(`expired_at`): an exception nobody has to look at again is a finding hidden for good.

    vulnerabilities:
      - id: CVE-2024-45337
        purls: ["pkg:golang/golang.org/x/crypto@v0.26.0"]   # optional: which packages
        statement: why it does not matter here, and what would end it
        expired_at: 2027-03-31

The gate (scan.summarize) lets a finding through when an unexpired entry matches its ID (and,
with `purls`, its package and version). The report lists each exception it used. An expired
entry fails the gate, named, whether or not its finding is still there: review it, renew it,
or remove it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

EXCEPTIONS_FILE: Final = ".trivyignore.yaml"


@dataclass(frozen=True)
class ReviewedException:
    """One accepted vulnerability: where it applies, why, and until when."""

    vulnerability_id: str
    packages: tuple[tuple[str, str], ...]  # (name, version or "" for any); empty: any package
    statement: str
    expires: datetime.date

    def matches(self, vulnerability_id: str, package: str, version: str) -> bool:
        if vulnerability_id != self.vulnerability_id:
            return False
        return not self.packages or any(
            name == package and (not wanted or wanted == version) for name, wanted in self.packages
        )

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires

    @property
    def label(self) -> str:
        """`CVE-… (package@version, …)`: the entry, as the file names it."""
        where = ", ".join(f"{n}@{v}" if v else n for n, v in self.packages) or "any package"
        return f"{self.vulnerability_id} ({where})"

    def render(self) -> str:
        return f"{self.label}, expires {self.expires}: {self.statement}"


def _purl(text: object, entry: str) -> tuple[str, str]:
    """('golang.org/x/crypto', 'v0.26.0') of 'pkg:golang/golang.org/x/crypto@v0.26.0'."""
    if not isinstance(text, str) or not text.startswith("pkg:") or "/" not in text:
        raise ValueError(f"{entry}: purl {text!r} is not pkg:<type>/<name>[@<version>]")
    name, _, version = text.split("/", 1)[1].partition("@")
    return name, version


def parse(text: str, source: str = EXCEPTIONS_FILE) -> tuple[ReviewedException, ...]:
    """The entries of a `.trivyignore.yaml`; ValueError naming the entry and the fix."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{source} is not YAML: {err}") from None
    entries = data.get("vulnerabilities", []) if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError(f"{source}: expected `vulnerabilities:` with a list of entries")
    return tuple(_entry(item, f"{source} entry {i + 1}") for i, item in enumerate(entries))


def _entry(item: Any, where: str) -> ReviewedException:
    if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not item["id"]:
        raise ValueError(f"{where}: needs `id:` (a vulnerability ID such as CVE-2024-45337)")
    where = f"{where} ({item['id']})"
    statement = item.get("statement")
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError(f"{where}: needs `statement:`, why the finding is accepted here")
    expires = item.get("expired_at")
    if isinstance(expires, datetime.datetime):
        expires = expires.date()
    if not isinstance(expires, datetime.date):
        raise ValueError(
            f"{where}: needs `expired_at:` as a date (YYYY-MM-DD); every exception expires"
        )
    purls = item.get("purls") or []
    if not isinstance(purls, list):
        raise ValueError(f"{where}: `purls:` must be a list")
    return ReviewedException(
        item["id"], tuple(_purl(p, where) for p in purls), statement.strip(), expires
    )
