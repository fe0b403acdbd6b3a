"""The containers the functions run in, built from pinned images (pipelines/versions.py).

Every step's command comes from `pipelines` (commands as data); this file only decides
which image runs it, what is mounted and what is cached.
"""

import time
from dataclasses import dataclass

import dagger
from dagger import dag

from pipelines import image, versions

# Paths of this repository the toolbox needs: the locked Python environment and the chart.
TOOLBOX_INCLUDE = ["pyproject.toml", "uv.lock", "README.md", "pipelines/**", "charts/**"]
HELM_IMAGE = f"alpine/helm:{versions.HELM_VERSION}"
WORKDIR = "/work"


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


@dataclass(frozen=True)
class TtsSource:
    """A lorawan-stack tree and the commit facts the build stamps into the binaries."""

    tree: dagger.Directory
    version: str
    commit: str
    date: str
    # GOTOOLCHAIN: "local" (GO_IMAGE suffices) or the toolchain the release's go.mod names.
    toolchain: str


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
        .with_exec(image.COMMIT_INFO_ARGV)
        .stdout()
    )
    commit, date = image.parse_commit_info(info)
    toolchain = image.go_toolchain(await tree.file("go.mod").contents(), versions.GO_IMAGE)
    return TtsSource(tree, version, commit, date, toolchain)


def _with_env(ctr: dagger.Container, env: dict[str, str]) -> dagger.Container:
    for name, value in env.items():
        ctr = ctr.with_env_variable(name, value)
    return ctr


def _with_go_caches(ctr: dagger.Container) -> dagger.Container:
    return ctr.with_mounted_cache(
        image.GO_MOD_CACHE, dag.cache_volume("tts-go-mod")
    ).with_mounted_cache(image.GO_BUILD_CACHE, dag.cache_volume("tts-go-build"))


def go_binaries(src: TtsSource) -> dagger.Directory:
    """Go stage: modules downloaded from go.mod/go.sum first (cached), then a static build."""
    env = {**image.GO_BUILD_ENV, "GOTOOLCHAIN": src.toolchain}
    go = _with_go_caches(_with_env(dag.container().from_(versions.GO_IMAGE), env))
    go = (
        go.with_workdir("/src")
        .with_directory("/src", src.tree, include=["go.mod", "go.sum"])
        .with_exec(image.GO_MOD_DOWNLOAD_ARGV)
        .with_directory("/src", src.tree, exclude=[".git", "data/lorawan-devices"])
    )
    for binary in image.BINARIES:
        go = go.with_exec(image.go_build_argv(binary, src.version, src.commit, src.date))
    return go.directory("/out")


def console_assets(src: TtsSource) -> dagger.Directory:
    """Web stage: upstream's `mage js:build` (Node + Go for mage itself) into public/.

    Keeps .git: the console's webpack config runs `git rev-parse --short HEAD`.
    """
    go_root = dag.container().from_(versions.GO_IMAGE).directory(image.GO_ROOT)
    node = (
        dag.container()
        .from_(versions.NODE_IMAGE)
        .with_directory(image.GO_ROOT, go_root)
        .with_env_variable("PATH", f"{image.GO_ROOT}/bin:${{PATH}}", expand=True)
        .with_mounted_cache(image.YARN_CACHE, dag.cache_volume("tts-yarn"))
    )
    return (
        _with_go_caches(_with_env(node, {**image.WEB_BUILD_ENV, "GOTOOLCHAIN": src.toolchain}))
        .with_workdir("/src")
        .with_directory("/src", src.tree, exclude=["data/lorawan-devices"])
        .with_exec(["git", "config", "--global", "--add", "safe.directory", "/src"])
        .with_exec(image.WEB_BUILD_ARGV)
        .directory("/src/public")
    )


def runtime_image(
    src: TtsSource, binaries: dagger.Directory, public: dagger.Directory
) -> dagger.Container:
    """Runtime stage: minimal base, uid/gid 886, binaries, console, plans and templates."""
    ctr = dag.container().from_(versions.RUNTIME_IMAGE).with_exec(image.RUNTIME_SETUP_ARGV)
    for name, value in image.oci_labels(src.version, src.commit, src.date).items():
        ctr = ctr.with_label(name, value)
    for binary in image.BINARIES:
        ctr = ctr.with_file(f"{image.BIN_DIR}/{binary}", binaries.file(binary), permissions=0o755)
    ctr = ctr.with_directory(image.PUBLIC_DIR, public)
    for source_path, target in image.DATA_DIRS.items():
        ctr = ctr.with_directory(target, src.tree.directory(source_path), exclude=[".git"])
    for port in image.EXPOSED_PORTS:
        number, _, protocol = port.partition("/")
        proto = dagger.NetworkProtocol.UDP if protocol == "udp" else dagger.NetworkProtocol.TCP
        ctr = ctr.with_exposed_port(int(number), protocol=proto)
    return (
        ctr.with_exec(image.BLOB_DIR_ARGV)
        .with_user(f"{image.UID}:{image.UID}")
        .with_workdir(image.WORKDIR)
        .with_entrypoint(list(image.ENTRYPOINT))
        .with_default_args(list(image.DEFAULT_ARGS))
    )


def python_env(source: dagger.Directory, *, dev: bool) -> dagger.Container:
    """PYTHON_IMAGE with this repository's locked environment (uv.lock) on PATH."""
    sync = ["uv", "sync", "--locked", "--no-editable", "--compile-bytecode"]
    return (
        dag.container()
        .from_(versions.PYTHON_IMAGE)
        .with_mounted_cache("/root/.cache/uv", dag.cache_volume("tts-ci-uv"))
        .with_exec(["pip", "install", "--no-cache-dir", f"uv=={versions.UV_VERSION}"])
        .with_env_variable("UV_PROJECT_ENVIRONMENT", "/opt/venv")
        .with_env_variable("UV_LINK_MODE", "copy")
        .with_env_variable("PATH", "/opt/venv/bin:${PATH}", expand=True)
        .with_workdir(WORKDIR)
        .with_directory(WORKDIR, source, include=TOOLBOX_INCLUDE)
        .with_exec(sync if dev else [*sync, "--no-dev"])
    )


def toolbox(source: dagger.Directory) -> dagger.Container:
    """helm + the repo's locked dev tools (kubernetes-validate, ...) + the chart, workdir /work."""
    helm = dag.container().from_(HELM_IMAGE).file("/usr/bin/helm")
    return python_env(source, dev=True).with_file("/usr/local/bin/helm", helm)


def smoke_image(source: dagger.Directory) -> dagger.Container:
    """The smoke probes as an image (`python -m pipelines.smoke`), non-root, for helm test."""
    return (
        python_env(source, dev=False)
        .with_user("65534:65534")
        .with_entrypoint(["python", "-m", "pipelines.smoke"])
    )
