"""Reading one series out of a Prometheus text exposition (format 0.0.4), strictly.

Hand-written, not prometheus_client.parser: that parser accepts two hostile bodies this one
refuses (checked with prometheus-client 0.26.0): a sample line with extra tokens,
`name{…} 1 2 3`, reads as 1, and `NaN NaN NaN` reads as a series named NaN. A probe must not
read a number out of something that is not Prometheus text.
"""

from __future__ import annotations

import math
import re

from pipelines.smoke.polling import ProbeFailure

# Prometheus text exposition 0.0.4: `name{label="value",...} value [timestamp]`.
_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?"
    r"[ \t]+(?P<value>\S+)(?:[ \t]+-?\d+)?[ \t]*$"
)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\.)*)"\s*(?:,|$)')


def _labels(text: str) -> dict[str, str] | None:
    """The label set of `{...}`, or None when it is not well formed."""
    labels, pos = {}, 0
    while pos < len(text.rstrip()):
        match = _LABEL.match(text, pos)
        if match is None:
            return None
        labels[match[1]] = match[2]
        pos = match.end()
    return labels


def metric_value(exposition: str, name: str, labels: dict[str, str]) -> float | None:
    """Sum of `name` samples whose labels include `labels`; None when there is none.

    Every sample line must parse, or ProbeFailure names the first one that does not: a
    probe must not read a number out of something that is not Prometheus text.
    TTS may prepend context labels (pkg/metrics ContextLabelNames), hence "include".
    """
    total, found = 0.0, False
    for number, line in enumerate(exposition.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SAMPLE.match(line)
        have = None if match is None else _labels(match["labels"] or "")
        try:
            value = float(match["value"]) if match is not None else math.nan
        except ValueError:
            match = None
        if match is None or have is None:
            raise ProbeFailure(f"/metrics line {number} is not Prometheus text: {line[:80]!r}")
        if match["name"] == name and all(have.get(k) == v for k, v in labels.items()):
            total += value
            found = True
    return total if found else None
