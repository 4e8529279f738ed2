"""Every real data set converts into a valid event log, with what was skipped counted."""

from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from models import bgnbd
from models.errors import ConfigError
from models.events import parse_event
from models.state import CustomerState
from models.timeutil import MS_PER_DAY, parse_ts
from stream.cli import main
from stream.datasets import DEFAULT_DATA_DIR, converters, read_csv


def convert(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp(name) / f"{name}.jsonl.gz"
    result = converters()[name](out, None)
    with gzip.open(out) as lines:
        return result, [orjson.loads(line) for line in lines]


def check_log(events: list[dict[str, Any]]) -> None:
    """Valid under the event contracts, unique ids, in event-time order."""
    for event in events:
        parse_event(event)
    assert len({e["event_id"] for e in events}) == len(events)
    times = [parse_ts(e["ts"]) for e in events]
    assert times == sorted(times)


def fit_orders(events: list[dict[str, Any]], until: int) -> bgnbd.FitResult:
    """BG/NBD on customer-days of placed orders before ``until``, the usual calibration table."""
    days: defaultdict[str, set[int]] = defaultdict(set)
    for e in events:
        if e["type"] == "order" and e["status"] == "placed" and parse_ts(e["ts"]) < until:
            days[e["customer_id"]].add(parse_ts(e["ts"]) // MS_PER_DAY)
    rows = [(len(d) - 1, max(d) - min(d), until // MS_PER_DAY - min(d)) for d in days.values()]
    x, t_x, T = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    return bgnbd.fit(x, t_x, T)


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    return convert("online-retail", tmp_path_factory)


def test_online_retail_is_one_order_per_invoice_with_cancellations(retail):
    result, events = retail
    assert dict(result.events) == {"order_placed": 18_532, "order_cancelled": 3_654}
    assert dict(result.skipped) == {"line_without_customer_id": 135_080, "invoice_total_not_positive": 4}
    check_log(events)
    first = events[0]  # invoice 536365: seven lines, 40 items, GBP 139.12
    assert (first["order_id"], first["items"], first["amount"]) == ("retail-536365", 40, 139.12)
    assert first["currency"] == "GBP"
    cancel = next(e for e in events if e["status"] == "cancelled")
    assert cancel["order_id"].startswith("retail-C") and cancel["amount"] > 0
    assert len({e["customer_id"] for e in events}) == 4_371  # one of 4,372 bought nothing that counts


def test_bgnbd_fit_on_online_retail_is_finite_and_says_what_it_did(retail):
    _result, events = retail
    fit = fit_orders(events, parse_ts("2011-09-09T00:00:00Z"))
    params = fit.params.as_array()
    assert np.all(np.isfinite(params)) and fit.converged
    assert "dropout barely identified" in fit.notes  # the MLE alone says nobody ever leaves
    p = fit.params
    assert 0.0005 < p.a / (p.a + p.b) < 0.05  # a small, finite dropout per repeat purchase
    assert 0.3 < p.r / p.alpha * 30 < 1.0  # about half an order a month, as the shop's buyers place


def test_womens_reviews_keep_file_order_with_made_up_customers(tmp_path_factory):
    result, events = convert("womens-reviews", tmp_path_factory)
    _again, repeat = convert("womens-reviews", tmp_path_factory)
    assert dict(result.events) == {"review": 22_642} and dict(result.skipped) == {"no_title_or_text": 844}
    check_log(events)
    assert events == repeat  # made-up ids and times are the same on every run
    ratings = Counter(e["rating"] for e in events)
    assert ratings[3] > 2_000 and ratings[5] > 12_000
    per_customer = Counter(e["customer_id"] for e in events).most_common()
    assert per_customer[0][1] > 50 and per_customer[-1][1] <= 2  # a few prolific reviewers, many occasional
    assert events[0]["text"].startswith("Absolutely wonderful") and events[0]["product_id"] == "cloth-767"


def test_olist_joins_reviews_to_the_person_who_ordered(tmp_path_factory):
    result, events = convert("olist", tmp_path_factory)
    assert dict(result.events) == {"order_placed": 4_000, "order_cancelled": 40, "review": 3_986}
    assert not result.skipped
    check_log(events)
    orders = {e["order_id"]: e for e in events if e["type"] == "order" and e["status"] == "placed"}
    reviews = [e for e in events if e["type"] == "review"]
    buyers = {e["customer_id"] for e in orders.values()}
    assert all(r["customer_id"] in buyers for r in reviews)
    assert {e["currency"] for e in orders.values()} == {"BRL"}
    texts = [r["text"] for r in reviews if r["text"]]
    assert len(texts) > 1_500 and any("não" in t.lower() for t in texts)  # Portuguese, accents intact
    fit = fit_orders(events, parse_ts("2018-09-01T00:00:00Z"))
    assert np.all(np.isfinite(fit.params.as_array()))


@pytest.fixture(scope="module")
def shoppers(tmp_path_factory):
    return convert("online-shoppers", tmp_path_factory)


def test_online_shoppers_sessions_reproduce_page_counts_and_durations(shoppers):
    result, events = shoppers
    assert dict(result.events) == {"click": 429_773, "order": 1_908}
    assert dict(result.skipped) == {"page_counts_missing": 14, "session_without_pages": 5}
    assert dict(result.adjusted) == {"missing_duration_read_as_0": 33}
    check_log(events)
    rows = list(read_csv(DEFAULT_DATA_DIR / "online_shoppers_intention" / "online_shoppers_intention.csv.gz"))
    by_session: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_session[event["customer_id"]].append(event)
    checked = 0
    for index, row in enumerate(rows):
        session = by_session.get(f"os-{index}")
        if session is None or row["Revenue"] != "TRUE":
            continue
        pages = Counter(e["page"] for e in session if e["type"] == "click" and e["action"] == "view")
        assert pages["/account"] == int(row["Administrative"]) and pages["/product"] == int(row["ProductRelated"])
        assert pages["/info"] == int(row["Informational"])
        state = CustomerState(f"os-{index}")
        for event in session:
            if event["type"] == "click":
                state.apply(parse_event(event))
        # The cart click ends the last product page, so dwell time is the source's duration.
        assert state.session_dwell_ms == pytest.approx(float(row["ProductRelated_Duration"]) * 1000, abs=5)
        checked += 1
    assert checked > 1_800


def test_otto_keeps_real_events_and_groups_order_lines(tmp_path_factory):
    result, events = convert("otto", tmp_path_factory)
    assert dict(result.events) == {"click_view": 800, "click_add_to_cart": 52, "order": 5}
    check_log(events)
    assert sum(e["items"] for e in events if e["type"] == "order") == 10  # the source's 10 order lines
    assert len({e["customer_id"] for e in events}) == 20
    first = [e for e in events if e["customer_id"] == "otto-0"]
    sessions = [e["session_id"] for e in first if e["type"] == "click"]
    assert sessions[0] == "otto-0-0" and len(set(sessions)) > 1  # 30 minutes apart: a new visit


def test_unknown_data_set_and_missing_file_are_named(tmp_path, capsys):
    assert main(["datasets", "nope", "--out", str(tmp_path / "x.jsonl")]) != 0
    assert "unknown data set 'nope'; known: cdnow, olist, online-retail" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"data file .*missing\.csv not found"):
        converters()["online-retail"](tmp_path / "x.jsonl", tmp_path / "missing.csv")


def test_cli_converts_and_prints_counts(tmp_path, capsys):
    out = tmp_path / "otto.jsonl"
    assert main(["datasets", "otto", "--out", str(out)]) == 0
    assert "wrote 857 events" in capsys.readouterr().out
    assert len(Path(out).read_bytes().splitlines()) == 857
