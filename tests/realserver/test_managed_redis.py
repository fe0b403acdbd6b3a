"""The AKS profile's Redis settings against the real server: TLS, a password, no Redis Cluster.

values-aks.yaml points TTS at Azure Managed Redis: `redis.mode: external`, TLS required and
the access key from Key Vault as the Redis password. Azure cannot run here; a TLS-only
redis-server with requirepass can, which is what those settings ask of the server. The
profile's own `redis` values are applied to the kind profile, only the address is local
(and the test's CA is trusted, where Azure's certificate chains to the system roots).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import redis
import yaml

from tests.realserver.conftest import require_ttn_lw_stack
from tests.support.paths import CHART
from tests.support.real_server import (
    chart_stores,
    running_stack,
)
from tests.support.servers import LOOPBACK

require_ttn_lw_stack()  # without the binary: skipped, one line for the suite


def _aks_redis_values(address: str, directory: Path) -> tuple[str, ...]:
    """values-aks.yaml's whole `redis` section as a values file; only the address is local."""
    aks = yaml.safe_load((CHART / "values-aks.yaml").read_text())["redis"]
    aks["external"]["address"] = address
    path = directory / "aks-redis.yaml"
    path.write_text(yaml.safe_dump({"redis": aks}))
    return ("--values", str(path))


def test_the_aks_redis_settings_work_against_a_tls_redis_with_a_password(
    tmp_path: Path, ttn_lw_stack: Path
) -> None:
    with chart_stores(tmp_path, tls=True) as stores:
        store, pg = stores.redis, stores.pg
        redis_password = store.password
        values = _aks_redis_values(f"{LOOPBACK}:{store.port}", tmp_path)
        with running_stack(ttn_lw_stack, tmp_path / "stack", store, pg, values=values) as stack:
            env = stack.env
            assert env["TTN_LW_REDIS_TLS_REQUIRE"] == "true"
            assert env["TTN_LW_REDIS_ADDRESS"] == f"{LOOPBACK}:{store.port}"
            assert env["TTN_LW_REDIS_PASSWORD"] == redis_password  # from the chart's Secret
            health = httpx.get(f"http://{LOOPBACK}:{stack.http_port}/healthz").json()
            assert health["status"] == "OK"
            print(f"ttn-lw-stack on TLS Redis: /healthz OK in {stack.seconds_to_healthy:.2f} s")
        client = redis.Redis(
            host=LOOPBACK, port=store.port, password=redis_password,
            ssl=True, ssl_ca_certs=str(store.tls_ca),
        )  # fmt: skip
        keys = client.dbsize()
        client.close()
        print(f"keys TTS wrote over TLS: {keys}")
        assert keys > 0
