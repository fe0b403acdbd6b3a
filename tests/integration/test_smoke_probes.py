"""The smoke probes against tests/support/protocol_standin.py, the protocol model of ttn-lw-stack
v3.32 for machines without the real binary (tests/realserver/ runs them against the real one).
Loopback only, OS-chosen free ports."""

import dataclasses
import json
import os
import subprocess
import time
from pathlib import Path

import anyio
import httpx
import pytest

from pipelines.smoke import CheckResult, Target, run_checks, semtech
from pipelines.smoke.device_probe import STEPS as DEVICE_STEPS
from pipelines.smoke.registry import API_KEY_ENV
from pipelines.smoke.target import DEFAULT_GATEWAY_EUI
from tests.support.protocol_standin import STANDIN_API_KEY, Standin, standin
from tests.support.protocol_standin import smoke_cli as _smoke_cli
from tests.support.servers import LOOPBACK

PLAN = "EU_863_870_TTN"
REGISTERED_EUI = "0011223344556677"


def smoke_cli(
    server: Standin, *args: str, api_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI against the model; the key only through the environment, as in the chart."""
    env = {k: v for k, v in os.environ.items() if k != API_KEY_ENV}
    if api_key is not None:
        env[API_KEY_ENV] = api_key
    return _smoke_cli(server.http_port, server.udp_port, *args, env=env)


def names(results: list[CheckResult]) -> list[tuple[str, bool]]:
    """(name, ok) of the steps that ran (the device probe's are skipped unless asked)."""
    return [(r.name, r.ok) for r in results if not r.skipped]


@pytest.mark.anyio
async def test_with_an_api_key_the_probe_registers_checks_and_removes_its_gateway() -> None:
    with standin() as server:
        target = server.target(api_key=STANDIN_API_KEY, frequency_plan=PLAN)
        eui = target.gateway_eui.hex()
        results = await run_checks(target, deadline=10)
        async with httpx.AsyncClient() as client:
            after = await client.get(
                f"http://{LOOPBACK}:{server.http_port}/api/v3/gs/gateways/eui-{eui}"
                "/connection/stats",
                headers={"Authorization": f"Bearer {STANDIN_API_KEY}"},
            )
    assert names(results) == [
        ("healthz", True),
        ("register", True),
        ("udp-ack", True),
        ("gateway-connected", True),
        ("unregister", True),
    ]
    assert f"gateway eui-{eui} (EUI {eui.upper()}, plan {PLAN}) registered" in results[1].detail
    assert results[3].detail.startswith(f"gateway eui-{eui} connected over udp since ")
    assert results[4].detail == f"gateway eui-{eui} purged"
    assert after.status_code == 404  # gone after the run


@pytest.mark.anyio
async def test_without_a_key_an_unregistered_gateway_is_acked_but_never_connects() -> None:
    # The real v3.32 behaviour: acks first, then refuses the unknown gateway.
    with standin() as server:
        results = await run_checks(server.target(), deadline=2)
        metrics = server.metrics()
        cli = smoke_cli(server, "--deadline", "1")
    healthz, ack, connected = results
    assert healthz.ok
    assert ack.ok
    assert not connected.ok
    assert 'ttn_lw_gs_connected_gateways{protocol="udp"} is absent' in connected.detail
    assert "refuses unregistered gateways" in connected.detail
    assert "TTS_API_KEY or --api-key-file" in connected.detail
    assert len(connected.attempts) > 1
    # The naive signal moved although nothing connected.
    assert 'ttn_lw_gs_io_udp_message_forwarded_total{type="PullData"}' in metrics
    assert cli.returncode == 1
    assert "PASS  udp-ack" in cli.stdout
    assert "FAIL  gateway-connected" in cli.stdout
    assert cli.stdout.splitlines()[-1].endswith("failed: gateway-connected")
    assert "SKIP  device-create      not asked: --device not given" in cli.stdout


@pytest.mark.anyio
async def test_without_a_key_a_gateway_registered_beforehand_raises_the_gauge() -> None:
    with standin("--registered", REGISTERED_EUI) as server:
        target = server.target(gateway_eui=bytes.fromhex(REGISTERED_EUI))
        results = await run_checks(target, deadline=10)
    assert names(results) == [("healthz", True), ("udp-ack", True), ("gateway-connected", True)]
    assert results[2].detail == 'ttn_lw_gs_connected_gateways{protocol="udp"} = 1'


def test_cli_with_a_key_passes_with_json_report() -> None:
    with standin() as server:
        result = smoke_cli(
            server, "--deadline", "10", "--json", "--frequency-plan", PLAN,
            api_key=STANDIN_API_KEY,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    eui = report["target"]["gateway_eui"]
    assert eui.startswith("AA555A")
    assert eui != DEFAULT_GATEWAY_EUI  # a fresh EUI per run
    assert report["target"]["registers_gateway"] is True
    steps = ["healthz", "register", "udp-ack", "gateway-connected", "unregister"]
    ran = [c for c in report["checks"] if not c["skipped"]]
    assert [c["name"] for c in ran] == steps
    assert all(c["ok"] and c["attempts"][-1]["ok"] for c in ran)
    skipped = [(c["name"], c["detail"]) for c in report["checks"] if c["skipped"]]
    assert skipped == [(name, "not asked: --device not given") for name in DEVICE_STEPS]
    # Not a TTY: one plain progress line per attempt on stderr.
    attempts = sum(len(c["attempts"]) for c in report["checks"])
    assert len(result.stderr.splitlines()) == attempts
    assert "\r" not in result.stderr
    assert STANDIN_API_KEY not in result.stdout + result.stderr


def test_cli_key_file_takes_the_json_of_create_user_api_key(tmp_path: Path) -> None:
    key_file = tmp_path / "api-key.json"
    key_file.write_text(json.dumps({"id": "ABC", "key": STANDIN_API_KEY, "name": "smoke"}))
    with standin() as server:
        result = smoke_cli(
            server, "--deadline", "10", "--api-key-file", str(key_file), "--frequency-plan", PLAN
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 of 5 checks passed" in result.stdout


def test_a_refused_key_fails_register_at_once_and_sends_no_packet() -> None:
    with standin() as server:
        started = time.monotonic()
        result = smoke_cli(
            server,
            "--deadline",
            "20",
            "--frequency-plan",
            PLAN,
            api_key="NNSXS.WRONG.WRONGWRONGWRONG",
        )
        took = time.monotonic() - started
        metrics = server.metrics()
    assert result.returncode == 1
    assert "FAIL  register" in result.stdout
    assert "answered 401" in result.stdout
    assert "the API key is not valid for this Things Stack" in result.stdout
    assert "not run: the probe gateway could not be registered" in result.stdout
    assert "unregister" not in result.stdout  # nothing was registered, nothing to remove
    assert took < 10  # a 401 is final: no retrying until the deadline
    assert "ttn_lw_gs_io_udp_message_received_total 0" in metrics


def test_an_existing_gateway_is_never_taken_over() -> None:
    with standin("--registered", REGISTERED_EUI) as server:
        result = smoke_cli(
            server, "--deadline", "5", "--frequency-plan", PLAN, "--gateway-eui", REGISTERED_EUI,
            api_key=STANDIN_API_KEY,
        )  # fmt: skip
        api = f"http://{LOOPBACK}:{server.http_port}/api/v3"
        auth = {"Authorization": f"Bearer {STANDIN_API_KEY}"}
        still_there = httpx.get(f"{api}/gateways/eui-{REGISTERED_EUI}", headers=auth)
        stats = httpx.get(f"{api}/gs/gateways/eui-{REGISTERED_EUI}/connection/stats", headers=auth)
    assert result.returncode == 1
    assert f"gateway eui-{REGISTERED_EUI} (or its EUI) already exists" in result.stdout
    # Not deleted, and no packet was sent in its name (so it did not connect either).
    assert still_there.status_code == 200
    assert stats.status_code == 404
    assert "not_connected" in stats.text


@pytest.mark.anyio
async def test_the_gateway_is_removed_when_a_check_fails() -> None:
    with standin() as server:
        # UDP goes nowhere (port 9 on 127.0.0.2 is closed): the UDP checks fail.
        target = server.target(api_key=STANDIN_API_KEY, frequency_plan=PLAN, udp_host="127.0.0.2")
        results = await run_checks(target, deadline=2)
    assert names(results) == [
        ("healthz", True),
        ("register", True),
        ("udp-ack", False),
        ("gateway-connected", False),
        ("unregister", True),
    ]


@pytest.mark.anyio
async def test_stopped_stack_fails_every_check_within_the_deadline() -> None:
    with standin() as server:
        server.stop()
        deadline = 2.0
        started = time.monotonic()
        results = await run_checks(server.target(), deadline=deadline)
        took = time.monotonic() - started
    assert took <= deadline + 1
    assert names(results) == [
        ("healthz", False),
        ("udp-ack", False),
        ("gateway-connected", False),
    ]
    assert "ConnectError" in results[0].detail
    assert "no answer within" in results[1].detail
    assert len(results[0].attempts) > 1  # polled with backoff, not tried once


def test_cli_against_stopped_stack_names_the_failing_checks() -> None:
    with standin() as server:
        server.stop()
        result = smoke_cli(server, "--deadline", "1.5")
        as_json = smoke_cli(server, "--deadline", "1.5", "--json")
    assert result.returncode == 1
    assert "FAIL  healthz" in result.stdout
    assert "FAIL  udp-ack" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "smoke: 0 of 3 checks passed; failed: healthz, udp-ack, gateway-connected"
    )
    assert "SKIP  join               not asked: --device not given" in result.stdout
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert all(c["elapsed"] <= 1.5 + 1 for c in report["checks"])


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1, made by the openssl CLI."""
    d = tmp_path_factory.mktemp("tls")
    files = {n: d / f"{n}.pem" for n in ("ca", "ca-key", "cert", "key")}

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=smoke CA",
            "-keyout", str(files["ca-key"]), "-out", str(files["ca"]))  # fmt: skip
    csr = d / "server.csr"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", str(files["key"]), "-out", str(csr))  # fmt: skip
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(files["ca"]), "-CAkey",
            str(files["ca-key"]), "-CAcreateserial", "-days", "1", "-extfile", str(ext),
            "-out", str(files["cert"]))  # fmt: skip
    return files


def test_https_with_ca_bundle_or_insecure(tls_files: dict[str, Path]) -> None:
    tls = ["--tls-cert", str(tls_files["cert"]), "--tls-key", str(tls_files["key"])]
    with standin("--registered", REGISTERED_EUI, *tls) as server:
        eui = ["--gateway-eui", REGISTERED_EUI]
        trusted = smoke_cli(
            server, "--https", "--ca-bundle", str(tls_files["ca"]), "--deadline", "5", *eui
        )
        insecure = smoke_cli(server, "--https", "--insecure", "--deadline", "5", *eui)
        unverified = smoke_cli(server, "--https", "--deadline", "1", "--json")
    assert trusted.returncode == 0, trusted.stdout
    assert f"https://127.0.0.1:{server.http_port}/healthz answered 200" in trusted.stdout
    assert insecure.returncode == 0, insecure.stdout
    assert unverified.returncode == 1
    healthz = json.loads(unverified.stdout)["checks"][0]
    assert not healthz["ok"]
    assert "CERTIFICATE_VERIFY_FAILED" in healthz["detail"]


@pytest.mark.anyio
async def test_reply_with_wrong_token_is_not_accepted() -> None:
    # A server that answers every packet with an ack for a different token.
    async with await anyio.create_udp_socket(local_host=LOOPBACK, local_port=0) as sock:
        port = sock.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - anyio, not Django

        async def answer_wrongly() -> None:
            async for datagram, (host, peer_port) in sock:
                token = (int.from_bytes(datagram[1:3], "big") + 1) % 0x10000
                ack = semtech.Packet(semtech.ACK_FOR[semtech.PacketType(datagram[3])], token)
                await sock.sendto(semtech.encode(ack), host, peer_port)

        async with anyio.create_task_group() as tg:
            tg.start_soon(answer_wrongly)
            target = Target(host=LOOPBACK, http_port=9, udp_port=port)
            results = await run_checks(target, deadline=0.5)
            tg.cancel_scope.cancel()
    ack = results[1]
    assert not ack.ok
    assert "ProtocolError: PULL_ACK token" in ack.detail
    assert all("token" in a.detail for a in ack.attempts)


@pytest.mark.anyio
async def test_udp_host_and_check_selection() -> None:
    """Gateways may reach another address (a UDP load balancer) than HTTP (an ingress)."""
    with standin() as server:
        # Nothing listens on 127.0.0.2 (the stand-in binds 127.0.0.1 only).
        elsewhere = dataclasses.replace(server.target(), host="127.0.0.2")
        routed = dataclasses.replace(elsewhere, udp_host=LOOPBACK)
        ok = await run_checks(routed, deadline=5, checks=["udp-ack"])
        missed = await run_checks(elsewhere, deadline=1, checks=["udp-ack", "healthz"])
    assert names(ok) == [("udp-ack", True)]
    assert f"from {LOOPBACK}:" in ok[0].detail
    assert names(missed) == [("healthz", False), ("udp-ack", False)]


@pytest.mark.anyio
async def test_unknown_check_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown or no checks"):
        await run_checks(Target(), deadline=1, checks=["udp-ack", "ping"])
