"""The containers the functions run in, from pinned images (pipelines/versions.py).

Every step's command comes from `pipelines` (commands as data); this file only decides
which image runs it, what is mounted and what is cached. Each container gets only what
it runs: the chart toolbox the `chart` dependency group, the smoke image the bare package.
"""

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import dagger
from dagger import dag

from pipelines import crds, image, versions

# Paths of this repository a Python container needs: the locked environment and the chart.
PYTHON_INCLUDE = ["pyproject.toml", "uv.lock", "README.md", "pipelines/**", "charts/**"]
HELM_IMAGE = f"alpine/helm:{versions.HELM_VERSION}"
WORKDIR = "/work"
CHART_DIR = Path("charts/thethingsstack")


def fresh(ctr: dagger.Container) -> dagger.Container:
    """`ctr` with a value that differs per call: keeps its execs out of Dagger's layer cache.

    For steps whose inputs do not change but whose world does (a CVE database, a cluster,
    a registry), so a cached result would report work that did not happen again.
    """
    return ctr.with_env_variable("TTS_CI_RUN", str(time.time_ns()))


class StepFailed(RuntimeError):
    """A command of a step exited non-zero; the message carries its output."""


async def run_steps(
    ctr: dagger.Container, steps: list[list[str]], what: str
) -> tuple[dagger.Container, str]:
    """Run argv lists in order; stop at the first failure with its output in the error."""
    log = []
    for argv in steps:
        ctr = ctr.with_exec(argv, expect=dagger.ReturnType.ANY)
        output = await ctr.combined_output()
        log.append(f"$ {' '.join(argv)}\n{output.rstrip()}")
        if await ctr.exit_code() != 0:
            raise StepFailed(f"{what} failed at `{' '.join(argv)}`:\n" + "\n".join(log))
    return ctr, "\n".join(log)


def runner(ctr: dagger.Container) -> Callable[[list[str]], Awaitable[tuple[int, str]]]:
    """A pipelines.release_state Runner: each argv in `ctr` (never cached), its exit and output."""

    async def run(argv: list[str]) -> tuple[int, str]:
        done = fresh(ctr).with_exec(argv, expect=dagger.ReturnType.ANY)
        return await done.exit_code(), await done.combined_output()

    return run


@dataclass(frozen=True)
class TtsSource:
    """A lorawan-stack checkout and what the build stamps in: release, commit, toolchain."""

    tree: dagger.Directory
    version: str
    commit: str
    date: str
    toolchain: str  # GOTOOLCHAIN: "local", or the toolchain the tree's go.mod names


async def tts_source(version: str, tree: dagger.Directory | None) -> TtsSource:
    """The release `version` from upstream git (with its data submodules), or `tree`."""
    if tree is None:
        ref = dag.git(image.TTS_GIT_URL).tag(image.release_tag(version))
        tree = ref.tree()  # keeps .git (depth 1), so the commit date can be read below
    info = await (
        dag.container()
        .from_(versions.GO_IMAGE)
        .with_directory("/src", tree, include=[".git/**"])
        .with_workdir("/src")
        .with_exec(image.COMMIT_INFO_ARGV, expect=dagger.ReturnType.ANY)
    )
    if await info.exit_code() != 0:
        raise ValueError(
            "--tts-source is not a git checkout: its commit and commit date are stamped "
            "into the binaries; pass a lorawan-stack clone (with .git)"
        )
    commit, date = image.parse_commit_info(await info.stdout())
    toolchain = image.go_toolchain(await tree.file("go.mod").contents())
    return TtsSource(tree, version, commit, date, toolchain)


def dockerfile_build(repo: dagger.Directory, src: TtsSource, target: str = "") -> dagger.Container:
    """Dockerfile.tts (the one image definition) through the engine's BuildKit."""
    context = (
        dag.directory()
        .with_directory(".", src.tree, exclude=list(image.CONTEXT_EXCLUDE))
        .with_file(image.DOCKERFILE, repo.file(image.DOCKERFILE))
        .with_file(image.DOCKERIGNORE, repo.file(image.DOCKERIGNORE))
    )
    args = image.build_args(src.version, src.commit, src.date, src.toolchain)
    return context.docker_build(
        dockerfile=image.DOCKERFILE,
        target=target,
        build_args=[dagger.BuildArg(name, value) for name, value in args.items()],
    )


def python_env(source: dagger.Directory, *uv_args: str) -> dagger.Container:
    """PYTHON_IMAGE with this repository's locked environment (uv.lock) on PATH.

    `uv_args` pick what is installed beyond the package and its base dependencies,
    e.g. `--group chart`.
    """
    return (
        dag.container()
        .from_(versions.PYTHON_IMAGE)
        .with_mounted_cache("/root/.cache/uv", dag.cache_volume("tts-ci-uv"))
        .with_exec(["pip", "install", "--no-cache-dir", f"uv=={versions.UV_VERSION}"])
        .with_env_variable("UV_PROJECT_ENVIRONMENT", "/opt/venv")
        .with_env_variable("UV_LINK_MODE", "copy")
        .with_env_variable("PATH", "/opt/venv/bin:${PATH}", expand=True)
        .with_workdir(WORKDIR)
        .with_directory(WORKDIR, source, include=PYTHON_INCLUDE)
        .with_exec(
            ["uv", "sync", "--locked", "--no-dev", "--no-editable", "--compile-bytecode", *uv_args]
        )
    )


def toolbox(source: dagger.Directory) -> dagger.Container:
    """helm + kubernetes-validate + `pipelines` + the chart, workdir /work."""
    helm = dag.container().from_(HELM_IMAGE).file("/usr/bin/helm")
    return python_env(source, "--group", "chart").with_file("/usr/local/bin/helm", helm)


def go_install(package: str, version: str) -> dagger.File:
    """A static binary of a Go module's package, built in GO_IMAGE from the Go module proxy.

    GOTOOLCHAIN=auto: a tool may need a newer Go than the TTS build's (kubeconform v0.7.0
    asks for go 1.24, GO_IMAGE has 1.23); the go command then fetches that toolchain.
    """
    name = package.rsplit("/", 1)[-1]
    return (
        dag.container()
        .from_(versions.GO_IMAGE)
        .with_env_variable("CGO_ENABLED", "0")
        .with_env_variable("GOTOOLCHAIN", "auto")
        .with_exec(["go", "install", f"{package}@{version}"])
        .file(f"/go/bin/{name}")
    )


async def crd_schemas() -> dagger.Directory:
    """The JSON schemas of pipelines.crds.SOURCES, as kubeconform_argv finds them."""
    go = (
        dag.container()
        .from_(versions.GO_IMAGE)
        .with_mounted_cache("/go/pkg/mod", dag.cache_volume("tts-ci-go-mod"))
    )
    for name, value in crds.DOWNLOAD_ENV.items():
        go = go.with_env_variable(name, value)
    downloaded = go.with_exec(crds.download_argv())
    schemas = dag.directory()
    for source, path in crds.crd_files(await downloaded.stdout()).items():
        # Read through an exec: the module cache is a cache volume, not the container's files.
        crd = await downloaded.with_exec(["cat", path]).stdout()
        for name, schema in crds.json_schemas(crd, source.also).items():
            schemas = schemas.with_new_file(name, json.dumps(schema))
    return schemas


def smoke_image(source: dagger.Directory) -> dagger.Container:
    """The smoke probes as an image (`python -m pipelines.smoke`), non-root, for helm test."""
    return (
        python_env(source)
        .with_user("65534:65534")
        .with_entrypoint(["python", "-m", "pipelines.smoke"])
    )
