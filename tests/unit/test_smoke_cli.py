"""`python -m pipelines.smoke`: bad usage exits 2 with one line; plus its pure helpers."""

import subprocess
import sys
from itertools import islice
from pathlib import Path

import pytest

from pipelines.smoke import polling, prometheus
from pipelines.smoke import target as targets
from tests.support.paths import REPO_ROOT


def smoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.smoke", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "no-such-host.invalid"], "cannot resolve --host 'no-such-host.invalid'"),
        (["--gateway-eui", "AA555A00"], "gateway EUI 'AA555A00' is not 16 hex digits"),
        (["--gateway-eui", "ZZ555A0000000000"], "is not 16 hex digits"),
        (["--deadline", "-1"], "argument --deadline: -1 s is not a deadline"),
        (["--deadline", "soon"], "'soon' is not a number of seconds"),
        (["--http-port", "65536"], "argument --http-port: port 65536 is out of range: use 1-65535"),
        (["--udp-port", "0"], "argument --udp-port: port 0 is out of range"),
        (["--udp-port", "-5"], "argument --udp-port: port -5 is out of range"),
        (["--http-port", "http"], "'http' is not a port number"),
        (["--insecure"], "only apply with --https"),
        (["--https", "--insecure", "--ca-bundle", __file__], "contradict each other"),
        (
            ["--https", "--ca-bundle", "/no/such/ca.pem"],
            "--ca-bundle /no/such/ca.pem is not a file",
        ),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (
            ["--checks", "healthz,ping"],
            "unknown check(s) ping: use healthz,udp-ack,gateway-connected",
        ),
        (["--checks", ","], "unknown check(s) (none)"),
        (
            ["--udp-host", "no-such-host.invalid"],
            "cannot resolve --udp-host 'no-such-host.invalid'",
        ),
        (
            ["--https", "--ca-bundle", __file__],
            f"--ca-bundle {__file__} holds no PEM certificate: pass the CA as PEM",
        ),
        (
            ["--api-key-file", __file__],
            f"--api-key-file {__file__} holds no API key",
        ),
        (
            ["--api-key-file", "/no/such/key"],
            "--api-key-file /no/such/key: No such file or directory",
        ),
        (["--frequency-plan", "EU 868"], "'EU 868' is not a frequency plan ID"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args: list[str], message: str) -> None:
    result = smoke(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m pipelines.smoke: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_an_api_key_without_a_frequency_plan_is_bad_usage(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("NNSXS.ABCDEFGHIJKLMNOP.QRSTUVWXYZ234567\n")
    result = smoke("--api-key-file", str(key))
    assert result.returncode == 2
    assert "needs --frequency-plan" in result.stderr
    assert "NNSXS" not in result.stderr  # the key is never echoed


KEY = "NNSXS.ABCDEFGHIJKLMNOP.QRSTUVWXYZ234567"
DEVICE = ["--device", "--frequency-plan", "EU_863_870_TTN"]


@pytest.mark.parametrize(
    ("args", "with_key", "message"),
    [
        (["--device"], False, "--device registers an application and a device, which needs an"),
        (["--gateway-protocol", "basic-station"], False, "the device's gateway: add --device"),
        (["--device", "--frequency-plan", "AS_923"], True,
         "the device probe knows no uplink channel of plan 'AS_923': use EU_863_870*"),
        ([*DEVICE, "--checks", "healthz"], True,
         "--device runs on the probe gateway: --checks must include udp-ack,gateway-connected"),
        ([*DEVICE, "--gateway-protocol", "basic-station", "--lns-uri", "http://x"], True,
         "--lns-uri 'http://x': give ws://host:port or wss://host:port"),
        ([*DEVICE, "--mqtt-host", "no-such-host.invalid"], True,
         "cannot resolve --mqtt-host 'no-such-host.invalid'"),
        ([*DEVICE, "--gateway-protocol", "lorawan"], True, "invalid choice: 'lorawan'"),
    ],
)  # fmt: skip
def test_bad_device_usage_exits_2_before_anything_is_created(
    args: list[str], with_key: bool, message: str, tmp_path: Path
) -> None:
    key = tmp_path / "key"
    key.write_text(KEY)
    result = smoke(*args, *(["--api-key-file", str(key)] if with_key else []))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert message in line
    assert KEY not in result.stderr


def test_help_names_the_contract_flags() -> None:
    result = smoke("--help")
    assert result.returncode == 0
    for flag in ["--host", "--http-port", "--udp-port", "--gateway-eui", "--deadline", "--json"]:
        assert flag in result.stdout
    assert "--ca-bundle" in result.stdout
    assert "--insecure" in result.stdout
    assert "--api-key-file" in result.stdout
    assert "TTS_API_KEY" in result.stdout
    assert "--frequency-plan" in result.stdout
    for flag in ["--device", "--mqtt-port", "--mqtt-tls", "--gateway-protocol", "--lns-uri"]:
        assert flag in result.stdout


EXPOSITION = """\
# HELP ttn_lw_gs_connected_gateways Number of currently connected gateways
# TYPE ttn_lw_gs_connected_gateways gauge
ttn_lw_gs_connected_gateways{protocol="udp"} 2
ttn_lw_gs_connected_gateways{protocol="grpc"} 5
ttn_lw_gs_connected_gateways_total{protocol="udp"} 9
ttn_lw_gs_io_udp_message_forwarded_total{type="PullData"} 7
"""


def test_metric_value_selects_name_and_label() -> None:
    labels = {"protocol": "udp"}
    assert prometheus.metric_value(EXPOSITION, "ttn_lw_gs_connected_gateways", labels) == 2
    assert prometheus.metric_value(EXPOSITION, "ttn_lw_gs_connected_gateways", {}) == 7
    assert (
        prometheus.metric_value(EXPOSITION, "ttn_lw_gs_connected_gateways", {"protocol": "ws"})
        is None
    )
    assert prometheus.metric_value("", "ttn_lw_gs_connected_gateways", labels) is None


def test_metric_value_sums_over_context_labels() -> None:
    # pkg/metrics may prepend context labels (ContextLabelNames): match by inclusion.
    text = (
        'ttn_lw_gs_connected_gateways{tenant="a",protocol="udp"} 1\n'
        'ttn_lw_gs_connected_gateways{tenant="b\\"q",protocol="udp"} 3\n'
    )
    assert prometheus.metric_value(text, "ttn_lw_gs_connected_gateways", {"protocol": "udp"}) == 4


def test_backoff_doubles_up_to_its_cap() -> None:
    delays = list(islice(polling.Backoff(initial=0.1, factor=2, cap=0.5).delays(), 5))
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5]


@pytest.mark.parametrize(
    ("target", "url"),
    [
        (targets.Target(host="tts.example", http_port=1885), "http://tts.example:1885"),
        (targets.Target(host="::1", http_port=8885, https=True), "https://[::1]:8885"),
    ],
)
def test_base_url(target: targets.Target, url: str) -> None:
    assert target.base_url == url


def test_metrics_password_stays_out_of_repr() -> None:
    secret = "-".join(["not", "logged"])
    assert secret not in repr(targets.Target(metrics_password=secret))
