"""Helm on this machine as a pipelines.release_state Runner, and a chart that can be stuck."""

from __future__ import annotations

import base64
import ssl
import subprocess
from pathlib import Path

import anyio
import httpx
import yaml

from pipelines.chart import RELEASE_NAME, profile_args
from tests.support.paths import CHART, tool_path

# A chart with one ConfigMap and, when `hang` is set, a pre-install/pre-upgrade hook Job.
# Helm waits for hook Jobs to finish, which never happens on an API server without nodes:
# a helm run killed while it waits is an interrupted deploy.
STUCK_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: stuck\nversion: 0.1.0\nappVersion: '1'\n",
    "values.yaml": "value: one\nhang: false\n",
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: state}\n"
        "data: {value: {{ .Values.value | quote }}}\n"
    ),
    "templates/hook.yaml": (
        "{{- if .Values.hang }}\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: hook\n"
        "  annotations: {helm.sh/hook: 'pre-install,pre-upgrade'}\nspec:\n  template:\n"
        "    spec:\n      restartPolicy: Never\n"
        "      containers: [{name: wait, image: 'busybox:1.36.1', command: [sleep, '1']}]\n"
        "{{- end }}\n"
    ),
}


def write_chart(directory: Path) -> Path:
    for name, text in STUCK_CHART.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


def deploy_kind(kubeconfig: Path, namespace: str, *values: str, check: bool = True) -> str:
    """The chart's kind profile upgraded/installed with extra `--set` arguments, no waiting
    (the API server has no nodes); helm's output."""
    result = helm(
        "upgrade", "--install", RELEASE_NAME, str(CHART), "--namespace", namespace,
        "--create-namespace", *profile_args(CHART, "kind"), *values,
        "--kubeconfig", str(kubeconfig), check=check,
    )  # fmt: skip
    return result.stdout + result.stderr


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(tool_path("helm")), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


async def run(argv: list[str]) -> tuple[int, str]:
    """A Runner: the argv's tool is the pinned one from .tools/bin."""
    assert argv[0] == "helm", argv
    result = await anyio.run_process(
        [str(tool_path("helm")), *argv[1:]], check=False, stderr=subprocess.STDOUT
    )
    return result.returncode, result.stdout.decode()


def api_client(kubeconfig: Path) -> httpx.Client:
    """An HTTP client for the API server of `kubeconfig` (token users only), for the calls
    helm does not make: kubectl's part in the volume resize path, and reading the results."""
    config = yaml.safe_load(kubeconfig.read_text())
    context = next(c["context"] for c in config["contexts"]
                   if c["name"] == config["current-context"])  # fmt: skip
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    assert "token" in user, "this helper speaks bearer tokens only"
    tls = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    return httpx.Client(
        base_url=cluster["server"], verify=tls, timeout=30,
        headers={"Authorization": f"Bearer {user['token']}"},
    )  # fmt: skip
