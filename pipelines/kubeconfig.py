"""Kubeconfig files as data: read, check a context, write back readably."""

from __future__ import annotations

from typing import Any

import yaml


def load(kubeconfig_yaml: str) -> dict[str, Any]:
    """The kubeconfig as a dict; ValueError when the text is not one."""
    try:
        config = yaml.safe_load(kubeconfig_yaml)
    except yaml.YAMLError as err:
        raise ValueError(
            f"kubeconfig is not YAML ({err.__class__.__name__}): pass the kubeconfig file's text"
        ) from None
    if not isinstance(config, dict) or config.get("kind") != "Config":
        raise ValueError(
            "kubeconfig is not a kubeconfig (no `kind: Config`): pass the kubeconfig file's text"
        )
    return config


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (kubeadm patches) as readable `|` blocks."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def dump(config: dict[str, Any]) -> str:
    """YAML text of a kubeconfig (or any config dict), multi-line strings as blocks."""
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False)


def check_context(kubeconfig_yaml: str, context: str) -> None:
    """Fail unless the kubeconfig has `context` (the error lists the ones it has)."""
    config = load(kubeconfig_yaml)
    names = [c.get("name") for c in config.get("contexts") or []]
    if context not in names:
        known = ", ".join(str(n) for n in names) or "none"
        raise ValueError(
            f"kubeconfig has no context {context!r} (it has: {known}): pass one of those or "
            "fetch credentials for the cluster (az aks get-credentials)"
        )
