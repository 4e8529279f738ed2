import csv
import gzip

import orjson

from stream.cli import main
from stream.datasets import cdnow

CDNOW_SAMPLE = """customer_id date number_of_cds dollar_value
 00001 19970101  1   11.77
 00002 19970112  1   12.00
 00002 19970112  5   77.00
 00002 19970326  1   10.00
 00003 19970102  2   20.76
 00003 1997xx02  2   20.76
 00003 19970105
"""


def test_cdnow_merges_customer_days_and_counts_what_it_skips(tmp_path):
    source = tmp_path / "CDNOW_master.txt"
    source.write_text(CDNOW_SAMPLE)
    out = tmp_path / "cdnow.jsonl.gz"
    result = cdnow.convert(out, source)
    with gzip.open(out) as lines:
        events = [orjson.loads(line) for line in lines]
    assert result.events["order"] == len(events) == 4
    assert dict(result.skipped) == {"unparseable_value": 1, "malformed_line": 1}
    day = [e for e in events if e["customer_id"] == "2" and e["ts"].startswith("1997-01-12")]
    assert len(day) == 1 and day[0]["amount"] == 89.0 and day[0]["items"] == 6
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert events[0]["ts"] == "1997-01-01T00:00:00.000Z"


def test_backtest_snapshot_scores_every_customer_seen_before_it(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    assert main(["generate", "--customers", "300", "--days", "200", "--seed", "4", "--out", str(log)]) == 0
    snapshot = tmp_path / "snapshot.csv"
    code = main(
        [
            "backtest",
            str(log),
            "--horizon-days",
            "60",
            "--snapshot-at",
            "2024-06-01T00:00:00Z",
            "--snapshot-out",
            str(snapshot),
        ]
    )
    assert code == 0
    with snapshot.open() as handle:
        rows = list(csv.DictReader(handle))
    seen = {e["customer_id"] for e in map(orjson.loads, log.read_bytes().splitlines()) if e["ts"] < "2024-06-01"}
    assert {row["customer_id"] for row in rows} == seen
    assert {"churn_risk", "p_alive", "expected_orders_h", "clv_h", "anomaly", "orders", "spend"} <= set(rows[0])
    scored = [row for row in rows if row["p_alive"]]
    assert scored and all(0 <= float(row["churn_risk"]) <= 1 for row in scored)
    assert "bgnbd at the snapshot" in capsys.readouterr().out


def test_snapshot_flags_must_come_together(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    log.write_text("")
    assert main(["backtest", str(log), "--snapshot-at", "2024-06-01T00:00:00Z"]) == 2
    assert "go together" in capsys.readouterr().err
