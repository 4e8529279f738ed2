"""``pulse backtest --report``: a self-contained page and the numbers behind it."""

import re

import orjson

from models.eventlog import write_log
from models.generator import GeneratorConfig, generate
from stream.cli import main


def test_report_is_self_contained_and_its_numbers_add_up(tmp_path, capsys):
    events, _truth = generate(GeneratorConfig(customers=500, days=240, seed=6, anomaly_rate=0.01, burst_rate=0.01))
    log, out = tmp_path / "log.jsonl", tmp_path / "report"
    write_log(log, events)
    assert main(["backtest", str(log), "--report", str(out)]) == 0
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out

    data = orjson.loads((out / "metrics.json").read_bytes())
    assert data["events"] == len(events) and data["customers"] == 500
    assert len(data["samples"]) >= 240 // 7  # a sample a week of event time
    assert data["samples"][-1]["events"] == len(events)
    calibration = data["churn_calibration"]
    assert calibration and all(0 <= row["observed"] <= 1 for row in calibration)
    assert sum(row["n"] for row in calibration) == data["quality"]["churn_risk"]["labels"]
    deciles = data["value_deciles"]
    assert len(deciles) == 10 and deciles[-1]["predicted"] > deciles[0]["predicted"]
    orders = data["anomaly"]["order"]
    assert sum(orders["histogram"]) == min(orders["scored"], 50_000) and 0 < orders["threshold"] < 1
    per_day = data["alerts_per_day"]
    assert sum(sum(rules.values()) for rules in per_day.values()) > 0
    assert {"champions", "lost"} <= set(data["samples"][-1]["segments"])

    page = (out / "report.html").read_text()
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', page)) >= 6
    assert not re.search(r'(src|href)="(https?:)?//', page), "opens offline: nothing fetched"
