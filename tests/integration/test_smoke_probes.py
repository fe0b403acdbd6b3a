"""The smoke probes against tts_standin, a protocol model of ttn-lw-stack (see its docstring:
the real binary cannot be built here). Loopback only, OS-chosen free ports."""

import dataclasses
import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from pipelines.smoke import Target, run_checks, semtech

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Standin:
    http_port: int
    udp_port: int
    proc: "subprocess.Popen[str]"

    def target(self) -> Target:
        return Target(host=LOOPBACK, http_port=self.http_port, udp_port=self.udp_port)

    def metrics(self) -> str:
        return httpx.get(f"http://{LOOPBACK}:{self.http_port}/metrics").text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@contextmanager
def standin(*args: str) -> Iterator[Standin]:
    """Start tests/integration/tts_standin.py; always stopped afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.tts_standin", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("READY "), f"stand-in did not start: {line!r}"
        ports = dict(field.split("=") for field in line.split()[1:])
        yield Standin(int(ports["http"]), int(ports["udp"]), proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)


def smoke_cli(server: Standin, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.smoke",
            "--host",
            LOOPBACK,
            "--http-port",
            str(server.http_port),
            "--udp-port",
            str(server.udp_port),
            *args,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.anyio
async def test_all_probes_pass_against_a_healthy_stack() -> None:
    with standin("--fallback-frequency-plan", "EU_863_870") as server:
        results = await run_checks(server.target(), deadline=10)
    assert [(r.name, r.ok) for r in results] == [
        ("healthz", True),
        ("udp-ack", True),
        ("gateway-connected", True),
    ]
    assert results[2].detail == 'ttn_lw_gs_connected_gateways{protocol="udp"} = 1'


def test_cli_passes_with_json_report() -> None:
    with standin("--fallback-frequency-plan", "EU_863_870") as server:
        result = smoke_cli(
            server, "--deadline", "10", "--json", "--gateway-eui", "0011223344556677"
        )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["target"]["gateway_eui"] == "0011223344556677"
    assert [c["name"] for c in report["checks"]] == ["healthz", "udp-ack", "gateway-connected"]
    assert all(c["ok"] and c["attempts"][-1]["ok"] for c in report["checks"])
    # Not a TTY: one plain progress line per attempt on stderr.
    attempts = sum(len(c["attempts"]) for c in report["checks"])
    assert len(result.stderr.splitlines()) == attempts
    assert "\r" not in result.stderr


@pytest.mark.anyio
async def test_stopped_stack_fails_every_check_within_the_deadline() -> None:
    with standin("--fallback-frequency-plan", "EU_863_870") as server:
        server.stop()
        deadline = 2.0
        started = time.monotonic()
        results = await run_checks(server.target(), deadline=deadline)
        took = time.monotonic() - started
    assert took <= deadline + 1
    assert [(r.name, r.ok) for r in results] == [
        ("healthz", False),
        ("udp-ack", False),
        ("gateway-connected", False),
    ]
    assert "ConnectError" in results[0].detail
    assert "no answer within" in results[1].detail
    assert len(results[0].attempts) > 1  # polled with backoff, not tried once


def test_cli_against_stopped_stack_names_the_failing_checks() -> None:
    with standin("--fallback-frequency-plan", "EU_863_870") as server:
        server.stop()
        result = smoke_cli(server, "--deadline", "1.5")
        as_json = smoke_cli(server, "--deadline", "1.5", "--json")
    assert result.returncode == 1
    assert "FAIL  healthz" in result.stdout
    assert "FAIL  udp-ack" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "smoke: 0 of 3 checks passed; failed: healthz, udp-ack, gateway-connected"
    )
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert all(c["elapsed"] <= 1.5 + 1 for c in report["checks"])


@pytest.mark.anyio
async def test_without_fallback_frequency_plan_acks_pass_but_connect_fails() -> None:
    # The case an echo test misses: TTS acks, then fails to connect the gateway.
    with standin() as server:
        results = await run_checks(server.target(), deadline=2)
        metrics = server.metrics()
        cli = smoke_cli(server, "--deadline", "1")
    healthz, ack, connected = results
    assert healthz.ok
    assert ack.ok
    assert not connected.ok
    assert 'ttn_lw_gs_connected_gateways{protocol="udp"} is absent' in connected.detail
    assert len(connected.attempts) > 1
    # The naive signal moved although nothing connected.
    assert 'ttn_lw_gs_io_udp_message_forwarded_total{type="PullData"}' in metrics
    assert cli.returncode == 1
    assert "PASS  udp-ack" in cli.stdout
    assert "FAIL  gateway-connected" in cli.stdout
    assert cli.stdout.splitlines()[-1].endswith("failed: gateway-connected")


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
    with standin("--fallback-frequency-plan", "EU_863_870", *tls) as server:
        trusted = smoke_cli(
            server, "--https", "--ca-bundle", str(tls_files["ca"]), "--deadline", "5"
        )
        insecure = smoke_cli(server, "--https", "--insecure", "--deadline", "5")
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
    with standin("--fallback-frequency-plan", "EU_863_870") as server:
        # Nothing listens on 127.0.0.2 (the stand-in binds 127.0.0.1 only).
        elsewhere = dataclasses.replace(server.target(), host="127.0.0.2")
        routed = dataclasses.replace(elsewhere, udp_host=LOOPBACK)
        ok = await run_checks(routed, deadline=5, checks=["udp-ack"])
        missed = await run_checks(elsewhere, deadline=1, checks=["udp-ack", "healthz"])
    assert [(r.name, r.ok) for r in ok] == [("udp-ack", True)]
    assert f"from {LOOPBACK}:" in ok[0].detail
    assert [(r.name, r.ok) for r in missed] == [("healthz", False), ("udp-ack", False)]


@pytest.mark.anyio
async def test_unknown_check_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown or no checks"):
        await run_checks(Target(), deadline=1, checks=["udp-ack", "ping"])
