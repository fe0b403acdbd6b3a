"""The chart's backup CronJob as processes on this machine: its containers' scripts and argv
as the kubelet would run them (the rendered chart), with Services, mounts and the storage
account made local (Azurite)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from tests.support import kubelet
from tests.support.azurite import Azurite
from tests.support.paths import REPO_ROOT
from tests.support.real_server import ChartStores, local_env, pod_volumes, relocate, run_to_end
from tests.support.render import find, install_argv, objects
from tests.support.servers import binary

ACCOUNT = "ttsbackupst"
BACKUPS, UPLOADS = "tts-backups", "tts-uploads"
CRONJOB = "tts-thethingsstack-backup"
BACKUP_VALUES = (
    "--set", "backup.enabled=true", "--set", "workloadIdentity.enabled=true",
    "--set", "tts.blob.provider=azure", "--set", f"tts.blob.azure.accountName={ACCOUNT}",
    "--set", f"tts.blob.azure.container={UPLOADS}",
)  # fmt: skip


def rendered_backup(*values: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The kind install (its Secret is what chart_stores gives the servers) with backups
    on: its objects and the CronJob's pod spec."""
    rendered = objects([*install_argv(deadline=60), *BACKUP_VALUES, *values])
    cronjob = find(rendered, "CronJob", CRONJOB)
    return rendered, cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def run_backup_pod(
    rendered: list[dict[str, Any]], spec: dict[str, Any], workdir: Path, stores: ChartStores,
    azurite: Azurite, places: dict[str, str], overrides: dict[str, str] | None = None,
) -> str:  # fmt: skip
    """Each init container, then the upload container, as processes; their output."""
    pod_volumes(rendered, spec, workdir)
    places = {**places, f"https://{ACCOUNT}.blob.core.windows.net": azurite.account_url}
    out = []
    for container in [*spec["initContainers"], *spec["containers"]]:
        env = local_env(rendered, container, workdir, stores.redis, stores.pg, {})
        env = {name: relocate(value, places) for name, value in env.items()}
        env.update({k: v for k, v in (overrides or {}).items() if k in env})
        mounts = {m["mountPath"]: str(workdir / m["name"]) for m in container["volumeMounts"]}
        image = [sys.executable, "-m", "pipelines.backup"]  # the backup image's entrypoint
        # The manifest's paths made local; the stand-in entrypoint is a path of this machine.
        argv = [part if part in image else relocate(part, {**places, **mounts})
                for part in kubelet.container_argv(container, env, image)]  # fmt: skip
        env = {**env, **azurite.env(), "PYTHONPATH": str(REPO_ROOT),
               "PATH": f"{Path(binary('pg_dump')).parent}:{os.environ['PATH']}"}  # fmt: skip
        out.append(run_to_end(argv, env, workdir))
    return "".join(out)
