"""Purchase propensity on real sessions (UCI Online Shoppers), online against batch.

Converts the data set (``pulse datasets online-shoppers``), feeds every event through
the engine in event-time order, and keeps the propensity the engine published at each
session's last page view: the moment before a buyer's cart and checkout clicks, so
neither model sees the purchase coming from those. The label is whether the session
bought.

- online: the engine's own predictions (made before the session's label was learned);
  ROC AUC over the last 20% of sessions in time order, and progressive AUC by fifth;
- batch: scikit-learn's HistGradientBoostingClassifier trained on the first 80% of
  sessions on the same session features at the same click, scored on the last 20%.

Target: the online AUC within 0.03 of the batch AUC.

    python bench/propensity_shoppers.py [--source online_shoppers_intention.csv.gz]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import models.numerics  # noqa: F401  (pins numpy's CPU dispatch: before numpy loads)

import numpy as np

from models.engine import Engine
from models.evaluation import roc_auc
from models.eventlog import iter_lines
from models.events import Click, Order, decode_event
from models.features import session_features
from stream.datasets import online_shoppers
from stream.settings import Settings

TARGET_GAP = 0.03


def last_views(log: Path) -> tuple[list[dict[str, Any]], float]:
    """Per session, in order of its last view: features, online score and label."""
    engine = Engine(Settings().engine_config())
    sessions: dict[str, dict[str, Any]] = {}
    started, count = time.perf_counter(), 0
    for _number, line in iter_lines(log):
        event = decode_event(line)
        outputs = engine.process(event)
        count += 1
        if isinstance(event, Order):
            sessions[event.customer_id]["label"] = 1
        elif isinstance(event, Click) and event.action == "view":
            state = engine.states[event.customer_id]
            sessions[event.customer_id] = {
                "ts": event.ts,
                "x": session_features(state, event.ts),
                "online": outputs[0].value["scores"]["purchase_propensity"],
                "label": 0,
            }
    rate = count / (time.perf_counter() - started)
    return sorted(sessions.values(), key=lambda s: s["ts"]), rate


def batch_auc(train: list[dict[str, Any]], test: list[dict[str, Any]]) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier

    names = sorted(train[0]["x"])
    matrix = lambda rows: np.array([[row["x"][n] for n in names] for row in rows])  # noqa: E731
    model = HistGradientBoostingClassifier(random_state=0)
    model.fit(matrix(train), [row["label"] for row in train])
    return roc_auc(np.array([row["label"] for row in test]), model.predict_proba(matrix(test))[:, 1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="online_shoppers_intention.csv(.gz)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "shoppers.jsonl.gz"
        conversion = online_shoppers.convert(log, args.source)
        print(conversion.summary(log))
        sessions, rate = last_views(log)
    split = int(len(sessions) * 0.8)
    train, test = sessions[:split], sessions[split:]
    scored = [s for s in test if s["online"] is not None]
    online = roc_auc(np.array([s["label"] for s in scored]), np.array([s["online"] for s in scored]))
    batch = batch_auc(train, test)
    print(f"{len(sessions):,} sessions, {sum(s['label'] for s in sessions):,} bought; engine {rate:,.0f} events/s")
    fifths = np.array_split(np.arange(len(sessions)), 5)
    for number, part in enumerate(fifths, start=1):
        rows = [sessions[i] for i in part if sessions[i]["online"] is not None]
        auc = roc_auc(np.array([r["label"] for r in rows]), np.array([r["online"] for r in rows]))
        print(f"  online ROC AUC, fifth {number} of the stream: {auc:.4f} ({len(rows):,} sessions)")
    print(f"last 20% ({len(test):,} sessions, {len(scored):,} scored online):")
    print(f"  online (predict, then learn)          ROC AUC {online:.4f}")
    print(f"  batch gradient boosting, first 80%    ROC AUC {batch:.4f}")
    gap = batch - online
    verdict = "PASS" if gap <= TARGET_GAP else "FAIL"
    print(f"{verdict}  online within {TARGET_GAP} AUC of batch (gap {gap:+.4f})")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
