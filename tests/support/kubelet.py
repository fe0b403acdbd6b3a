"""What the kubelet would hand a container of a rendered manifest: its environment and argv.

Resolves `envFrom` (ConfigMaps, Secrets), `env` (values, secretKeyRef, configMapKeyRef) and
Kubernetes' `$(VAR)` expansion (`$$` escapes) against the rendered objects, so a test can
run a container's process on this machine with exactly the configuration the chart gives it.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.support.render import find

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: known names are replaced, unknown ones stay, $$ is $."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return _REFERENCE.sub(one, text)


def _data(obj: dict[str, Any]) -> dict[str, str]:
    """A ConfigMap's or Secret's data as text (Secrets: stringData, or base64 data)."""
    values = dict(obj.get("stringData") or {})
    for key, value in (obj.get("data") or {}).items():
        values[key] = base64.b64decode(value).decode() if obj["kind"] == "Secret" else value
    return values


def container_env(rendered: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The container's environment, in the kubelet's order (envFrom, then env, expanded)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        for kind, ref in [("ConfigMap", "configMapRef"), ("Secret", "secretRef")]:
            if ref in source:
                env.update(_data(find(rendered, kind, source[ref]["name"])))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(item["value"], env)
            continue
        frm = item["valueFrom"]
        for kind, ref in [("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")]:
            if ref in frm:
                env[item["name"]] = _data(find(rendered, kind, frm[ref]["name"]))[frm[ref]["key"]]
    return env


def container_argv(
    container: dict[str, Any], env: dict[str, str], entrypoint: list[str]
) -> list[str]:
    """command + args with $(VAR) expanded; `entrypoint` stands for the image's."""
    command = container.get("command") or entrypoint
    return [expand(part, env) for part in [*command, *container.get("args", [])]]
