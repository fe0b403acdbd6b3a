"""The migration's steps (pipelines/migrate/run.py) in pinned containers.

- `postgres`: POSTGRES_IMAGE's pg_dump/pg_restore/psql (PostgreSQL 16, the targets' major);
  the dump file lives in a directory carried from step to step.
- `python`: this repository's `pipelines.migrate` with its `migrate` extra.
- `tts`: the target release's static ttn-lw-stack (Dockerfile.tts go stage) in the same
  PostgreSQL image, for `is-db migrate`.
Sources a container cannot reach directly become services: an SSH tunnel to a VM, a
redis-server on an RDB file, a PostgreSQL holding a restored pg_dump file.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import dagger
from dagger import ReturnType, dag

from pipelines import versions
from pipelines.migrate import postgres, tunnel
from pipelines.migrate.errors import MigrationError
from pipelines.migrate.run import Step, Stores, load_dump, migrate

from .containers import fresh, python_env
from .tts_image import build_binaries

WORK = "/work"
TTS_BINARY = "/usr/local/bin/ttn-lw-stack"
SCRATCH_PASSWORD = "scratch-only"  # noqa: S105 - a throw-away server inside the session
TUNNEL_HOST = "vm"


@dataclass
class DaggerExecutor:
    """Runs each Step in its tool's container; secrets only as Dagger secrets."""

    repo: dagger.Directory
    binaries: dagger.Directory
    services: dict[str, dagger.Service] = field(default_factory=dict)
    work: dagger.Directory = field(default_factory=dag.directory)
    counter: Iterator[int] = field(default_factory=itertools.count)
    started: set[str] = field(default_factory=set)

    async def start_services(self) -> None:
        """Start every bound service once and keep it up: the engine stops a service its
        last client left, and a scratch database restarted between two steps is empty."""
        for alias, service in self.services.items():
            if alias not in self.started:
                self.services[alias] = await service.start()
                self.started.add(alias)

    def _base(self, step: Step) -> dagger.Container:
        if step.tool == "python":
            ctr = python_env(self.repo, "--extra", "migrate")
        else:
            ctr = dag.container().from_(versions.POSTGRES_IMAGE).with_directory(WORK, self.work)
            if step.tool == "tts":
                ctr = ctr.with_file(TTS_BINARY, self.binaries.file("ttn-lw-stack"))
        for alias, service in self.services.items():
            ctr = ctr.with_service_binding(alias, service)
        return ctr.with_workdir(WORK)

    def _argv(self, step: Step) -> list[str]:
        if step.tool == "python":
            return ["python", "-m", "pipelines.migrate", *step.argv]
        if step.tool == "tts":
            return [TTS_BINARY, *step.argv]
        return step.argv

    async def run(self, step: Step) -> str:
        """The step's stdout; MigrationError with its stderr when it fails."""
        await self.start_services()
        ctr = self._base(step).with_(fresh)
        for name, value in step.env.items():
            ctr = ctr.with_env_variable(name, value)
        for name, value in step.secrets.items():
            secret = dag.set_secret(f"migrate-{next(self.counter)}-{name.lower()}", value)
            ctr = ctr.with_secret_variable(name, secret)
        ctr = ctr.with_exec(self._argv(step), expect=ReturnType.ANY)
        if await ctr.exit_code() != 0:
            raise MigrationError(f"{step.what} failed: {(await ctr.stderr()).strip()[-800:]}")
        if step.tool == "postgres":
            self.work = ctr.directory(WORK)  # the dump file, for the next step
        return (await ctr.stdout()).strip()


def scratch_server() -> tuple[dagger.Service, postgres.Database]:
    """A throw-away PostgreSQL for what the migration reads but must not touch elsewhere."""
    service = (
        dag.container()
        .from_(versions.POSTGRES_IMAGE)
        .with_env_variable("POSTGRES_USER", "scratch")
        .with_env_variable("POSTGRES_PASSWORD", SCRATCH_PASSWORD)
        .with_env_variable("POSTGRES_DB", "scratch")
        .with_exposed_port(5432)
        .as_service(use_entrypoint=True)
    )
    db = postgres.Database("scratch", 5432, "scratch", "scratch", "disable", SCRATCH_PASSWORD)
    return service, db


def rdb_server(rdb: dagger.File) -> dagger.Service:
    """A redis-server that loads `rdb` and persists nothing: the RDB as a live source."""
    return (
        dag.container()
        .from_(versions.REDIS_IMAGE)
        .with_file("/data/dump.rdb", rdb)
        .with_exposed_port(6379)
        .as_service(
            args=[
                "redis-server",
                "--dir",
                "/data",
                "--dbfilename",
                "dump.rdb",
                "--appendonly",
                "no",
                "--save",
                "",
                "--protected-mode",
                "no",
            ]
        )
    )


def ssh_tunnel(
    repo: dagger.Directory, target: str, key: dagger.Secret, known_hosts: dagger.File,
    forwards: list[str],
) -> dagger.Service:  # fmt: skip
    """`python -m pipelines.migrate tunnel` as a service: the VM's ports on host TUNNEL_HOST."""
    ctr = python_env(repo, "--extra", "migrate").with_mounted_secret(
        "/run/ssh/key", key, mode=0o600
    )
    ctr = ctr.with_file("/run/ssh/known_hosts", known_hosts)
    for forward in forwards:
        ctr = ctr.with_exposed_port(int(forward.split(":")[0]))
    argv = ["python", "-m", "pipelines.migrate", "tunnel", "--ssh-host", target,
            "--key-file", "/run/ssh/key", "--known-hosts", "/run/ssh/known_hosts"]  # fmt: skip
    for forward in forwards:
        argv += ["--forward", forward]
    return ctr.as_service(args=argv)


@dataclass(frozen=True)
class Sources:
    """Where the old deployment's state comes from (migrate's source arguments)."""

    postgres_uri: dagger.Secret | None
    redis_url: dagger.Secret | None
    postgres_dump: dagger.File | None
    redis_rdb: dagger.File | None
    ssh_host: str
    ssh_key: dagger.Secret | None
    ssh_known_hosts: dagger.File | None

    def check(self) -> None:
        """One source per store, and what SSH needs; before any work."""
        if (self.postgres_uri is None) == (self.postgres_dump is None):
            raise ValueError("give the source database once: --source-postgres or --postgres-dump")
        if (self.redis_url is None) == (self.redis_rdb is None):
            raise ValueError("give the source Redis once: --source-redis or --redis-rdb")
        if self.ssh_host:
            tunnel.parse_target(self.ssh_host)
            if self.ssh_key is None or self.ssh_known_hosts is None:
                raise ValueError("--ssh-host needs --ssh-key and --ssh-known-hosts")


async def _redis_url(secret: dagger.Secret, what: str) -> str:
    url = (await secret.plaintext()).strip()
    if not url.startswith(("redis://", "rediss://")):
        raise ValueError(f"{what} is not a redis:// or rediss:// URL (its text is not repeated)")
    return url


async def run(
    repo: dagger.Directory,
    version: str,
    target_postgres: dagger.Secret,
    target_redis: dagger.Secret,
    sources: Sources,
    *,
    dry_run: bool,
    replace: bool,
) -> str:
    """Set up services and the executor, then pipelines.migrate.run.migrate; its report."""
    sources.check()
    target = Stores(
        postgres.parse_uri((await target_postgres.plaintext()).strip()),
        await _redis_url(target_redis, "--target-redis"),
    )
    scratch_service, scratch = scratch_server()
    ex = DaggerExecutor(
        repo, await build_binaries(repo, version, None), {"scratch": scratch_service}
    )
    source_db, source_redis = await _live_sources(ex, repo, sources)
    if sources.postgres_dump is not None:
        source_db = await _restored(ex, sources.postgres_dump, scratch)
    if sources.redis_rdb is not None:
        ex.services["source-redis"] = rdb_server(sources.redis_rdb)
        source_redis = "redis://source-redis:6379"
    assert source_db is not None  # Sources.check()
    assert source_redis is not None
    lines: list[str] = []
    migrated = await migrate(
        ex, Stores(source_db, source_redis), target, scratch,
        dry_run=dry_run, replace=replace, log=lines.append,
    )  # fmt: skip
    return "\n".join([*lines, migrated.report])


async def _live_sources(
    ex: DaggerExecutor, repo: dagger.Directory, sources: Sources
) -> tuple[postgres.Database | None, str | None]:
    """The live source database and Redis, through the SSH tunnel when there is one."""
    db = None
    if sources.postgres_uri is not None:
        db = postgres.parse_uri((await sources.postgres_uri.plaintext()).strip())
    url = None
    if sources.redis_url is not None:
        url = await _redis_url(sources.redis_url, "--source-redis")
    if not sources.ssh_host:
        return db, url
    assert sources.ssh_key is not None  # Sources.check()
    assert sources.ssh_known_hosts is not None
    forwards = []
    if db is not None:
        forwards.append(f"5432:{db.host}:{db.port}")
        db = postgres.Database(TUNNEL_HOST, 5432, db.user, db.name, db.sslmode, db.password)
    if url is not None:
        forward, url = _through_tunnel(url)
        forwards.append(forward)
    ex.services[TUNNEL_HOST] = ssh_tunnel(
        repo, sources.ssh_host, sources.ssh_key, sources.ssh_known_hosts, forwards
    )
    return db, url


def _through_tunnel(url: str) -> tuple[str, str]:
    """(the tunnel's forward, the URL that reaches the VM's Redis through it)."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{TUNNEL_HOST}:6379" if auth else f"{TUNNEL_HOST}:6379"
    return f"6379:{parts.hostname}:{parts.port or 6379}", urlunsplit(parts._replace(netloc=netloc))


async def _restored(
    ex: DaggerExecutor, dump: dagger.File, scratch: postgres.Database
) -> postgres.Database:
    """A pg_dump file restored into the scratch server: a source that can be counted."""
    ex.work = ex.work.with_file("given.dump", dump)
    return await load_dump(ex, "given.dump", scratch, "source")
