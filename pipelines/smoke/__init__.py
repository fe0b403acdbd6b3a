"""Smoke probes for a running Things Stack: HTTP /healthz, Semtech UDP acks, gateway connected.

Library: ``await run_checks(Target(...), deadline)``; command: ``python -m pipelines.smoke``.
"""

from pipelines.smoke.polling import Attempt, Backoff, CheckResult
from pipelines.smoke.probes import CHECKS, run_checks
from pipelines.smoke.target import Target

__all__ = ["CHECKS", "Attempt", "Backoff", "CheckResult", "Target", "run_checks"]
