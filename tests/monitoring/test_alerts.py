"""monitoring/alerts.yml: promtool's unit tests, and one real Prometheus scraping a running app."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.reliability.harness import LiveServer
from tests.reliability.wsclient import open_raw
from tests.support import free_port, unavailable

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
METRICS_TOKEN = "scrape-token-for-the-alert-test"
ALERT_WAIT_S = 30
BURST = 400


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (apt-get install prometheus)", service="prometheus")
    return path


def test_rules_are_valid_and_their_unit_tests_pass():
    """`promtool check rules` accepts alerts.yml and every case of alerts.test.yml (fires / stays quiet) passes."""
    promtool = tool("promtool")
    check = subprocess.run(
        [promtool, "check", "rules", str(MONITORING / "alerts.yml")], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    result = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"], cwd=MONITORING, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_and_a_runbook_section():
    """Each alert in alerts.yml is exercised by alerts.test.yml and has its runbook heading in docs/operations.md."""
    import yaml

    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    alerts = [rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    tests = yaml.safe_load((MONITORING / "alerts.test.yml").read_text())
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]}
    runbook = (ROOT / "docs" / "operations.md").read_text()
    assert len(alerts) >= 7
    for alert in alerts:
        assert alert in tested, f"{alert} is never shown firing in alerts.test.yml"
        assert f"### {alert}" in runbook, f"docs/operations.md has no runbook section for {alert}"


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def app_server(tmp_path):
    server = LiveServer(tmp_path / "app", "", "daphne-core")
    (tmp_path / "app").mkdir()
    server.env["METRICS_TOKEN"] = METRICS_TOKEN
    try:
        server.prepare()
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def prometheus(tmp_path, app_server):
    """Debian's Prometheus on a free loopback port, scraping the app every second with the metrics token."""
    binary = tool("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(MONITORING / "alerts.yml")],
                "scrape_configs": [
                    {
                        "job_name": "watchparty",
                        "metrics_path": "/metrics",
                        "authorization": {"type": "Bearer", "credentials": METRICS_TOKEN},
                        "static_configs": [{"targets": [f"127.0.0.1:{app_server.port}"]}],
                    }
                ],
            }
        )
    )
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"Prometheus exited:\n{(tmp_path / 'prometheus.log').read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("Prometheus did not become ready in 30 s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_for(predicate, what: str, timeout: float = ALERT_WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"Waited {timeout:.0f} s for {what}")


def _alerts(base: str) -> list[dict]:
    return _get_json(f"{base}/api/v1/alerts")["data"]["alerts"]


def test_a_burst_of_invalid_frames_raises_the_refusal_alert_in_a_real_prometheus(app_server, prometheus):
    """Prometheus scrapes the running app with the metrics token; after a burst of invalid frames
    WatchPartyFrameRefusalsHigh is pending or firing, and no alert was active before."""

    def scraped():
        targets = _get_json(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
        return targets and all(t["health"] == "up" for t in targets)

    _wait_for(scraped, "the app to be scraped (target up)")
    # Two evaluations on normal traffic: nothing fires.
    _wait_for(
        lambda: _get_json(f"{prometheus}/api/v1/query?query=watchparty_dependency_up")["data"]["result"],
        "the first scraped samples",
    )
    time.sleep(2)
    assert [a for a in _alerts(prometheus) if a["labels"]["alertname"].startswith("WatchParty")] == []

    (token,) = app_server.take_tokens(1)
    party = app_server.party_with([token])

    async def burst():
        socket = await open_raw(app_server, party["id"], token)
        try:
            await asyncio.wait_for(socket.recv(), 5)  # party.state
            # rate() over the rule's 5 minutes: 400 refusals are 1.3/s, over the 0.5/s floor.
            for i in range(BURST):
                await socket.send(json.dumps({"type": "no.such.frame", "n": i}))
            for _ in range(BURST):
                await asyncio.wait_for(socket.recv(), 5)
        finally:
            await socket.close()

    asyncio.run(burst())

    def refusal_alert():
        return [a for a in _alerts(prometheus) if a["labels"]["alertname"] == "WatchPartyFrameRefusalsHigh"]

    try:
        [alert] = _wait_for(refusal_alert, "WatchPartyFrameRefusalsHigh to become pending")
    except BaseException:
        for query in ("watchparty_websocket_frames_rejected_total", "watchparty:frames_rejected:rate5m", "ALERTS"):
            print(query, _get_json(f"{prometheus}/api/v1/query?query={urllib.parse.quote(query)}")["data"]["result"])
        print(_get_json(f"{prometheus}/api/v1/rules")["data"])
        raise
    assert alert["state"] in ("pending", "firing")
    assert alert["labels"]["code"] in ("invalid", "rate_limited")
    assert alert["labels"]["instance"] == f"127.0.0.1:{app_server.port}"
    assert "far above normal" in alert["annotations"]["summary"]
