"""Where the peer suites find their peers: a variable each, else one default place.

No registry ships these peers; a machine that has them (built by hand, or downloaded in
the GitHub jobs) names them with the variables, or puts them in the default place,
~/.cache/tts-ci/peers/ (TTS_CI_PEERS moves it):

    variable               file in the default place   peer
    TTN_LW_STACK           ttn-lw-stack                the pinned release's ttn-lw-stack
    TTN_LW_STACK_PREVIOUS  ttn-lw-stack-previous       one schema migration older (v3.31.1)
    KUBE_API_BINARIES      kube/                       etcd, kube-apiserver, kube-controller-manager
    DAGGER_CLI             dagger/dagger               the dagger CLI of dagger.json's engineVersion
    DAGGER_HELM_CHART      charts/dagger-helm/         Dagger's chart (dagger-helm) of engineVersion
    ARC_SCALE_SET_CHART    charts/gha-runner-scale-set/
                                                       ARC's runner scale set chart of ARC_VERSION
    ARC_CONTROLLER_CHART   charts/gha-runner-scale-set-controller/
                                                       its controller chart, with ARC's CRDs

KUBE_API_KUBECONFIG (a running API server) takes the place of KUBE_API_BINARIES, and a
`dagger` on PATH that of DAGGER_CLI. A peer that is absent skips each module of its suite
at import, all from absent() below, so pytest folds them into one line that names the
variable (`SKIPPED [5] tests/support/peers.py:…`). With TTS_CI_REQUIRE_PEERS=1
(`scripts/test --suite`) an absent peer fails instead: a job that exists to run a suite is
never green from nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import MutableMapping
from pathlib import Path
from typing import Final, NoReturn

import pytest

REQUIRE: Final = "TTS_CI_REQUIRE_PEERS"
DEFAULT_PLACE: Final = {
    "TTN_LW_STACK": "ttn-lw-stack",
    "TTN_LW_STACK_PREVIOUS": "ttn-lw-stack-previous",
    "KUBE_API_BINARIES": "kube",
    "DAGGER_CLI": "dagger/dagger",
    "DAGGER_HELM_CHART": "charts/dagger-helm",
    "ARC_SCALE_SET_CHART": "charts/gha-runner-scale-set",
    "ARC_CONTROLLER_CHART": "charts/gha-runner-scale-set-controller",
}


def peers_dir(environ: MutableMapping[str, str]) -> Path:
    return Path(environ.get("TTS_CI_PEERS") or Path.home() / ".cache" / "tts-ci" / "peers")


def apply_default_place(environ: MutableMapping[str, str]) -> list[str]:
    """Set each unset variable whose peer is in the default place; what was found, a line each."""
    found = []
    for variable, name in DEFAULT_PLACE.items():
        path = peers_dir(environ) / name
        if not environ.get(variable) and path.exists():
            environ[variable] = str(path)
            found.append(f"{variable}={path} (default place)")
    if not environ.get("DAGGER_CLI") and (on_path := shutil.which("dagger")):
        environ["DAGGER_CLI"] = on_path
        found.append(f"DAGGER_CLI={on_path} (PATH)")
    return found


def absent(reason: str) -> NoReturn:
    """Skip the calling module with one line, or fail it when peers are required."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} ({REQUIRE}=1: this run exists to use the peer)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require(variable: str, what: str) -> str:
    """The variable's value; without it the module is skipped (or failed) with one line."""
    value = os.environ.get(variable, "")
    if not value:
        place = DEFAULT_PLACE.get(variable)
        where = f", or put it at {peers_dir(os.environ) / place}" if place else ""
        absent(f"{variable} is not set: it names {what}{where}")
    return value
