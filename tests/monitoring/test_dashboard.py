"""monitoring/: every metric the dashboard and the alert rules name is exported by /metrics, and the
compose profile provisions what the files say."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "watchparty.json"
TOKEN = "dashboard-test-token"
METRIC_NAME = re.compile(r"\b(watchparty_[a-z0-9_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def family_of(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def rule_expressions() -> list[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def exported_families(client, settings) -> set[str]:
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {family.name for family in text_string_to_metric_families(response.content.decode())}


def test_every_metric_the_dashboard_and_the_rules_name_is_exported(client, settings):
    """Each watchparty_* name in the dashboard's and the rules' expressions is a family of a live /metrics."""
    exported = exported_families(client, settings)
    named = {match for expr in dashboard_expressions() + rule_expressions() for match in METRIC_NAME.findall(expr)}
    assert len(named) >= 10
    missing = sorted(name for name in named if family_of(name) not in exported)
    assert missing == [], f"named in monitoring/ but not exported by /metrics: {missing}"


def test_dashboard_covers_what_on_call_needs_and_uses_the_provisioned_datasource():
    """The dashboard has the agreed panels, all on the datasource uid that provisioning creates."""
    dashboard = json.loads(DASHBOARD.read_text())
    datasources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasources["datasources"][0]["uid"]
    assert {panel["datasource"]["uid"] for panel in dashboard["panels"]} == {uid}
    expressions = " ".join(dashboard_expressions())
    for metric in (
        "watchparty_websockets_open",
        "watchparty_parties_active",
        "watchparty_messages_stored_total",
        "watchparty_messages_delivered_total",
        "watchparty_message_delivery_seconds_bucket",
        "watchparty_mongodb_command_duration_seconds_bucket",
        "watchparty_mongodb_slow_commands_total",
        "watchparty_websocket_frames_rejected_total",
        "watchparty_channel_layer_outage_sockets",
    ):
        assert metric in expressions, metric


def test_compose_monitoring_profile_mounts_the_rules_and_the_dashboard():
    """`docker compose --profile monitoring` runs Prometheus with alerts.yml and Grafana with the dashboard, both files present."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    assert "./monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro" in services["prometheus"]["volumes"]
    prometheus = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert prometheus["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert services["app"]["environment"]["METRICS_TOKEN"] == services["prometheus"]["environment"]["METRICS_TOKEN"]
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/watchparty.yml").read_text())
    assert (
        f"./monitoring/grafana/dashboards:{provider['providers'][0]['options']['path']}:ro"
        in services["grafana"]["volumes"]
    )
