"""The deployment files, checked for structure (no Docker engine runs the tests)."""

import json
from pathlib import Path

import pytest
import yaml

from tests.promql import dashboard_exprs, metric_names, rule_exprs

ROOT = Path(__file__).parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DASHBOARD = ROOT / "deploy/grafana/dashboards/customer-pulse.json"
RULES = ROOT / "deploy/prometheus-rules.yml"
TOPICS = {"orders", "clicks", "reviews", "customer-scores", "customer-alerts", "events-dlq"}


def mounts(service: str) -> dict[str, Path]:
    """Container path -> host path (resolved from the repository root) of a service's bind mounts."""
    out = {}
    for volume in SERVICES[service]["volumes"]:
        host, container = volume.split(":")[:2]
        if host.startswith("./"):
            out[container] = ROOT / host
    return out


def test_kafka_runs_in_kraft_mode_and_kafka_init_creates_every_topic():
    kafka, init = SERVICES["kafka"], SERVICES["kafka-init"]
    assert kafka["image"].startswith("apache/kafka:") and "healthcheck" in kafka
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert init["image"] == kafka["image"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = init["command"][0]
    assert "--partitions 8" in script and "--if-not-exists" in script
    assert set(script.split("for topic in ")[1].split(";")[0].split()) == TOPICS


@pytest.mark.parametrize("name", ["worker-1", "worker-2"])
def test_workers_share_one_group_and_image_with_their_own_state(name):
    worker = SERVICES[name]
    assert worker["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert (ROOT / worker["build"]["dockerfile"]).exists()
    assert worker["image"] == "customer-pulse:latest"
    env = worker["environment"]
    assert env["PULSE_BROKER"] == "kafka://kafka:9092" and env["PULSE_PARTITIONS"] == "8"
    assert "PULSE_TOPIC_PREFIX" not in env  # the same (empty) prefix: one consumer group
    assert worker["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert "localhost:9108/metrics" in " ".join(worker["healthcheck"]["test"])
    assert [volume.split(":")[1] for volume in worker["volumes"]] == ["/data"]


def test_workers_have_distinct_volumes_and_host_ports():
    volumes = {SERVICES[n]["volumes"][0].split(":")[0] for n in ("worker-1", "worker-2")}
    ports = {SERVICES[n]["ports"][0].split(":")[0] for n in ("worker-1", "worker-2")}
    assert len(volumes) == 2 and volumes <= set(COMPOSE["volumes"])
    assert ports == {"9108", "9109"}


def test_prometheus_scrapes_the_workers_and_loads_the_rules_it_is_given():
    config = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())
    given = mounts("prometheus")
    assert all(path.exists() for path in given.values())
    assert given["/etc/prometheus/prometheus.yml"] == ROOT / "deploy/prometheus.yml"
    assert all(given.get(path) == RULES for path in config["rule_files"])
    (job,) = config["scrape_configs"]
    targets = {target for group in job["static_configs"] for target in group["targets"]}
    assert targets == {"worker-1:9108", "worker-2:9108"} and {"worker-1", "worker-2"} <= set(SERVICES)


def test_grafana_provisions_the_datasource_and_the_dashboard_folder():
    given = mounts("grafana")
    provisioning = given["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in SERVICES
    (provider,) = yaml.safe_load((provisioning / "dashboards/customer-pulse.yml").read_text())["providers"]
    assert given[provider["options"]["path"]] == DASHBOARD.parent
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    for panel in dashboard["panels"]:
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
        assert panel["datasource"]["uid"] == datasource["uid"]
        assert panel["targets"] and all(target["expr"] for target in panel["targets"])


def test_dashboard_and_alert_rules_read_only_metrics_the_worker_serves():
    """Checked against the names here; the integration test checks them against a real scrape."""
    served = {
        "pulse_events_total", "pulse_dlq_total", "pulse_event_lag_seconds_bucket", "pulse_processing_seconds_bucket",
        "pulse_customers", "pulse_model_quality", "pulse_alerts_total", "pulse_alerts_held_back",
        "pulse_checkpoint_age_seconds", "pulse_consumer_lag", "pulse_buffer_entries", "pulse_store_memory_bytes",
        "process_resident_memory_bytes", "up",
    }  # fmt: skip
    used = {name for expr in [*dashboard_exprs(DASHBOARD), *rule_exprs(RULES)] for name in metric_names(expr)}
    assert used <= served
    titles = " ".join(panel["title"] for panel in json.loads(DASHBOARD.read_text())["panels"]).lower()
    for topic in (
        "throughput", "dead letters", "p99", "model quality", "alerts by rule", "customers", "consumer lag", "memory",
    ):  # fmt: skip
        assert topic in titles


def test_alert_rules_cover_the_failures_people_get_paged_for():
    rules = {rule["alert"]: rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    assert {"PulseWorkerDown", "PulseDeadLetterSurge", "PulseLagGrowing", "PulseModelQualityLow"} <= set(rules)
    assert all(rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"] for rule in rules.values())


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("sum by (le) (rate(pulse_event_lag_seconds_bucket[5m]))", {"pulse_event_lag_seconds_bucket"}),
        ('up{job="customer-pulse"} == 0', {"up"}),
        ("a_total / on (instance) group_left b_info > 0.5 and c offset 5m", {"a_total", "b_info", "c"}),
        ('deriv(sum(lag)[10m:1m]) > 0 or absent(x{le="+Inf"})', {"lag", "x"}),
    ],
)
def test_metric_names_of_promql(expr, names):
    assert metric_names(expr) == names


def test_worker_image_installs_the_package_and_runs_the_worker():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11" in dockerfile
    for copied in ("pyproject.toml", "models", "stream"):
        assert f"COPY {copied}" in dockerfile or f" {copied} " in dockerfile
    assert 'ENTRYPOINT ["pulse"]' in dockerfile and 'CMD ["worker"]' in dockerfile
    assert "PULSE_DATA_DIR=/data" in dockerfile
