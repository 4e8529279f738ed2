"""A worker's /metrics and status page, scraped and rendered for real."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest

from models.generator import GeneratorConfig, generate
from stream.broker import EmbeddedBroker
from tests.badevents import BAD_EVENTS
from tests.harness import Cluster, read_topics, scrape
from tests.promql import dashboard_exprs, metric_names, rule_exprs

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
ARTIFACTS = Path(os.environ.get("PULSE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
#: The page's cards and the metric (sum over its label sets) each must show.
CARDS = {
    "scored-total": ("pulse_events_total", {"outcome": "scored"}),
    "dlq-total": ("pulse_dlq_total", {}),
    "customers": ("pulse_customers", {}),
    "alerts-total": ("pulse_alerts_total", {}),
    "consumer-lag": ("pulse_consumer_lag", {}),
}


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def render(browser: str, url: str, *flags: str) -> str:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--virtual-time-budget=5000",
        "--window-size=1280,1500",
        *flags,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)
    return done.stdout


def total(samples: dict, name: str, labels: dict[str, str]) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items())
    )


def card(dom: str, element_id: str) -> float:
    match = re.search(rf'id="{element_id}">([^<]*)<', dom)
    assert match is not None, f"no #{element_id} on the page"
    return float(match.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def busy_worker(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One worker that has scored a generated log with bad events and alerts in it."""
    cluster = Cluster(broker=broker, prefix="obs-", workdir=tmp_path_factory.mktemp("observability"))
    events, _truth = generate(GeneratorConfig(customers=400, days=120, seed=21, anomaly_rate=0.02, burst_rate=0.01))
    cluster.create_topics()
    cluster.produce_events(events)
    bad = [
        (cluster.topic("orders"), b"bad", build(i))
        for _kind, (_t, build, _r) in sorted(BAD_EVENTS.items())
        for i in range(3)
    ]
    cluster.produce_raw(bad)
    cluster.start_worker()
    scores = cluster.topic("customer-scores")
    read_topics(cluster.broker, [scores], lambda r: len(r[scores]) >= len(events), timeout=240, settle=6)
    yield cluster
    cluster.stop_all()


def test_every_metric_of_the_dashboard_and_the_alert_rules_is_scraped(busy_worker: Cluster) -> None:
    scraped = {name for name, _labels in scrape(busy_worker.metrics_port)}
    used: Counter[str] = Counter()
    for expr in [
        *dashboard_exprs(ROOT / "deploy/grafana/dashboards/customer-pulse.json"),
        *rule_exprs(ROOT / "deploy/prometheus-rules.yml"),
    ]:
        used.update(metric_names(expr))
    assert used, "no PromQL found"
    missing = {name for name in used if name not in scraped and name != "up"}  # `up` is Prometheus' own
    assert not missing, f"used by the dashboard or the alert rules but not on /metrics: {sorted(missing)}"
    assert any(name.startswith("faust_") for name in scraped), "Faust's own sensor metrics"
    assert not any("c0" in str(labels) for _name, labels in scrape(busy_worker.metrics_port)), "no customer ids"


def test_status_page_shows_the_numbers_on_metrics(busy_worker: Cluster) -> None:
    browser = chromium()
    url = f"http://127.0.0.1:{busy_worker.metrics_port}/"
    with urlopen(url, timeout=5) as response:
        page = response.read().decode()
    assert "<script" in page and "http" not in re.sub(r"http://www\.w3\.org/2000/svg", "", page), "no external files"
    for _attempt in range(3):  # a gauge refresh between the page and the scrape moves a number: retry
        dom = render(browser, url, "--dump-dom")
        samples = scrape(busy_worker.metrics_port)
        shown = {element: card(dom, element) for element in CARDS}
        expected = {element: total(samples, *metric) for element, metric in CARDS.items()}
        if shown == expected:
            break
        time.sleep(2)
    assert shown == expected
    assert expected["scored-total"] > 1000 and expected["dlq-total"] > 0 and expected["alerts-total"] > 0
    rows = re.findall(r"<tr><td>(\w+)</td><td>(roc_auc|spearman|accuracy|mae)</td>", dom)
    assert "purchase_propensity" in {model for model, _metric in rows}, "model quality rows"
    assert dom.count('class="warning"') + dom.count('class="critical"') + dom.count('class="info"') > 0, "alerts"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    render(browser, url, f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000
