"""helm commands as data: the kind install and its tests, the AKS deploy, rollback, status.

Every function is pure: it returns an argv list and raises ValueError with a one-line fix
for bad input. The release is always RELEASE_NAME in NAMESPACE (pipelines.chart).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from pipelines.chart import NAMESPACE, RELEASE_NAME, profile_args
from pipelines.oci import ImageRef, parse_image_ref

MAX_TIMEOUT_SECONDS: Final = 3600


def check_timeout(seconds: int, what: str = "timeout_seconds") -> str:
    """helm's --timeout form ("600s") of a whole number of seconds in range."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not 0 < seconds <= MAX_TIMEOUT_SECONDS
    ):
        raise ValueError(
            f"{what}={seconds!r} is not a timeout: use 1-{MAX_TIMEOUT_SECONDS} seconds"
        )
    return f"{seconds}s"


def check_path(path: str | Path, what: str) -> str:
    """A non-empty path, as text for an argv."""
    if not str(path).strip():
        raise ValueError(f"{what} is empty: pass the path of the file")
    return str(path)


def kubeconfig_args(kubeconfig: str | Path, context: str = "") -> list[str]:
    """helm's --kubeconfig (and --kube-context) arguments."""
    args = ["--kubeconfig", check_path(kubeconfig, "kubeconfig")]
    if context != context.strip():
        raise ValueError(f"kube context {context!r} has surrounding spaces: pass the bare name")
    return [*args, "--kube-context", context] if context else args


def _image_set_args(prefix: str, image: ImageRef) -> list[str]:
    # --set-string: a tag such as 3.32 must stay a string, not become a float.
    out = ["--set-string", f"{prefix}.repository={image.repository}"]
    if image.tag is not None:
        out += ["--set-string", f"{prefix}.tag={image.tag}"]
    if image.digest is not None:
        out += ["--set-string", f"{prefix}.digest={image.digest}"]
    return out


def _helm_upgrade(chart_dir: Path, profile: str) -> list[str]:
    """`helm upgrade --install` of the release with a profile's values (kind and deploy)."""
    return [
        "helm", "upgrade", "--install", RELEASE_NAME, str(chart_dir),
        "--namespace", NAMESPACE, "--create-namespace", *profile_args(chart_dir, profile),
    ]  # fmt: skip


def install_kind_argv(
    chart_dir: Path,
    kubeconfig: str | Path,
    image_repository: str,
    image_tag: str,
    probe_image: str,
    timeout_seconds: int,
) -> list[str]:
    """`helm upgrade --install --wait` of the kind profile with our image and the smoke test pod.

    Load both images into kind first (kind_load_image_argv); values-kind.yaml pulls IfNotPresent.
    """
    tts = parse_image_ref(f"{image_repository}:{image_tag}")
    probe = parse_image_ref(probe_image)
    if probe.tag is None:
        raise ValueError(f"probe image {probe_image!r} has no tag: the chart needs repository:tag")
    return [
        *_helm_upgrade(chart_dir, "kind"),
        *_image_set_args("image", tts),
        "--set",
        "tests.smoke.enabled=true",
        *_image_set_args("tests.smoke.image", probe),
        "--wait",
        "--timeout",
        check_timeout(timeout_seconds),
        *kubeconfig_args(kubeconfig),
    ]


def test_argv(kubeconfig: str | Path, timeout_seconds: int) -> list[str]:
    """`helm test --logs`: runs the chart's test pods (healthz, smoke) and prints their logs."""
    return [
        "helm",
        "test",
        RELEASE_NAME,
        "--namespace",
        NAMESPACE,
        "--logs",
        "--timeout",
        check_timeout(timeout_seconds),
        *kubeconfig_args(kubeconfig),
    ]


def deploy_argv(
    chart_dir: Path,
    kubeconfig: str | Path,
    image: ImageRef,
    values_files: Sequence[str | Path],
    timeout_seconds: int,
    context: str = "",
) -> list[str]:
    """`helm upgrade --install --atomic --wait` with the aks profile and the image by digest.

    `values_files` come after values-aks.yaml (your filled-in Bicep outputs win); `context`
    selects a kubeconfig context (empty: the current one).
    """
    if image.digest is None:
        raise ValueError(
            f"image {image} has no digest: deploy the <repo>@sha256:... that publish printed"
        )
    extra: list[str] = []
    for path in values_files:
        extra += ["-f", check_path(path, "values file")]
    return [
        *_helm_upgrade(chart_dir, "aks"),
        *extra,
        *_image_set_args("image", image),
        "--atomic",
        "--wait",
        "--timeout",
        check_timeout(timeout_seconds),
        *kubeconfig_args(kubeconfig, context),
    ]


def rollback_argv(
    kubeconfig: str | Path,
    revision: int | None,
    context: str = "",
    timeout_seconds: int = 300,
    namespace: str = NAMESPACE,
) -> list[str]:
    """`helm rollback` to `revision`, or to the previous one when None; waits for the pods."""
    if revision is not None and (
        isinstance(revision, bool) or not isinstance(revision, int) or revision < 1
    ):
        raise ValueError(
            f"revision {revision!r} is not a release revision: "
            "pass 1 or more, or None for the previous one"
        )
    target = [] if revision is None else [str(revision)]
    return [
        "helm",
        "rollback",
        RELEASE_NAME,
        *target,
        "--namespace",
        namespace,
        "--wait",
        "--timeout",
        check_timeout(timeout_seconds),
        *kubeconfig_args(kubeconfig, context),
    ]


def history_argv(
    kubeconfig: str | Path, context: str = "", namespace: str = NAMESPACE
) -> list[str]:
    """`helm history` of the release as JSON (the last 20 revisions, oldest first)."""
    return [
        "helm", "history", RELEASE_NAME, "--namespace", namespace, "--max", "20",
        "--output", "json", *kubeconfig_args(kubeconfig, context),
    ]  # fmt: skip


def uninstall_argv(
    kubeconfig: str | Path,
    context: str = "",
    namespace: str = NAMESPACE,
    timeout_seconds: int = 300,
) -> list[str]:
    """`helm uninstall` of the release, waiting for its objects to go (volumes stay)."""
    return [
        "helm", "uninstall", RELEASE_NAME, "--namespace", namespace, "--wait",
        "--timeout", check_timeout(timeout_seconds), *kubeconfig_args(kubeconfig, context),
    ]  # fmt: skip


def status_argv(kubeconfig: str | Path, context: str = "") -> list[str]:
    """`helm status` of the release with its live objects (--show-resources), as JSON."""
    return [
        "helm", "status", RELEASE_NAME, "--namespace", NAMESPACE,
        "--show-resources", "--output", "json", *kubeconfig_args(kubeconfig, context),
    ]  # fmt: skip
