"""Smoke probes for a running Things Stack: HTTP /healthz, Semtech UDP acks, gateway connected.

Library: ``await run_checks(Target(...), deadline)``; command: ``python -m pipelines.smoke``.
"""

from pipelines.smoke.probes import CHECKS, Attempt, Backoff, CheckResult, Target, run_checks

__all__ = ["CHECKS", "Attempt", "Backoff", "CheckResult", "Target", "run_checks"]
