"""Per-customer state and its update from events.

The state carries its own record of what has been applied (the last offset per source
topic and the most recent event ids). The two are stored as one value, so whatever
version of a customer's state survives a crash, it is consistent with its markers, and
an event delivered again is recognised and changes nothing.
"""

from __future__ import annotations

import binascii
import hashlib
import math
import operator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from models.events import Click, Event, Order, Review
from models.jsonio import dumps
from models.timeutil import MS_PER_DAY

STATE_VERSION = 4
RECENT_EVENT_IDS = 32
#: An id (event, session, product) is remembered as a 72-bit hash written in 12 base64
#: characters. The chance that a new event is mistaken for one of a customer's last 32 is
#: 32 / 2**72.
TOKEN_CHARS = 12
RECENT_SESSIONS = 8
RECENT_ORDERS = 8
#: Time constant of the decayed activity rates: about a month of memory.
ACTIVITY_TAU_MS = 14 * MS_PER_DAY
RATING_ALPHA = 0.3
#: Click actions counted per session, in the order of ``session_actions``.
SESSION_ACTIONS = ("view", "search", "add_to_cart", "remove_from_cart", "checkout")
SESSION_PRODUCTS = 50
#: Money is kept to 4 decimals (enough for 3-decimal currencies) so totals are exact
#: whatever order a customer's orders and refunds are folded in.
MONEY_DECIMALS = 4


@lru_cache(maxsize=64)
def id_token(value: str) -> str:
    """A fixed-width stand-in for an id: a state's 32 event ids cost 400 bytes, not 2-3 KB.

    Decoded states are much of a worker's memory, and ids are often UUIDs. The hash
    (BLAKE2b, unkeyed) is the same in every process and every version. The cache serves
    the second look-up of an event's id (``has_applied``, then ``mark_applied``).
    """
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=9).digest()
    return binascii.b2a_base64(digest, newline=False).decode("ascii")


def _tokens(ids: list[Any]) -> str:
    """The ``id_token`` of each id, concatenated: how a list of ids is kept since version 4."""
    return "".join(id_token(str(value)) for value in ids)


def _holds_token(tokens: str, token: str) -> bool:
    """True when ``token`` is one of the fixed-width entries of ``tokens``."""
    at = tokens.find(token)
    while at >= 0:
        if at % TOKEN_CHARS == 0:
            return True
        at = tokens.find(token, at + 1)
    return False


def _money(value: float) -> float:
    """``value`` rounded to the money grid, making sums independent of addition order."""
    return round(value, MONEY_DECIMALS)


@dataclass(frozen=True, slots=True)
class Source:
    """Where an event was read from: a topic partition offset, or a log line."""

    topic: str
    partition: int
    offset: int


class CustomerState:
    """Running totals for one customer, compact enough for 100,000s in one worker."""

    __slots__ = (
        "activity_ts",
        "alerts",
        "applied",
        "click_rate",
        "clicks",
        "customer_id",
        "first_order_ts",
        "first_seen_ts",
        "gap_count",
        "gap_m2",
        "gap_mean_days",
        "last_event_ts",
        "last_order_ts",
        "orders",
        "rating_ewm",
        "rating_sum",
        "recent_event_ids",
        "recent_order_ts",
        "recent_sessions",
        "remove_rate",
        "returns",
        "reviews",
        "segment",
        "sentiment",
        "session_actions",
        "session_clicks",
        "session_dwell_ms",
        "session_product_view_ts",
        "session_product_views",
        "session_products",
        "session_rate",
        "session_start_ts",
        "sessions",
        "spend",
    )

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.orders = 0
        self.spend = 0.0
        self.returns = 0
        self.clicks = 0
        self.sessions = 0
        self.reviews = 0
        self.rating_sum = 0
        self.first_seen_ts: int | None = None
        self.last_event_ts: int | None = None
        self.first_order_ts: int | None = None
        self.last_order_ts: int | None = None
        self.gap_count = 0
        self.gap_mean_days = 0.0
        self.gap_m2 = 0.0
        #: The ``id_token`` of the latest session ids, oldest first, concatenated.
        self.recent_sessions = ""
        self.recent_order_ts: list[int] = []
        self.session_clicks = 0
        self.session_start_ts: int | None = None
        self.session_actions = [0] * len(SESSION_ACTIONS)
        self.session_product_views = 0
        #: The ``id_token`` of each product seen this session, concatenated.
        self.session_products = ""
        #: Time spent on product pages this session: from a product view to the next click.
        self.session_dwell_ms = 0
        self.session_product_view_ts: int | None = None
        self.segment: str | None = None
        #: Exponentially weighted P(positive) of the customer's reviews.
        self.sentiment: float | None = None
        #: Alert rule -> its memory for this customer (see ``models.alerts.RuleMemory``).
        self.alerts: dict[str, list[Any]] = {}
        self.activity_ts: int | None = None
        self.click_rate = 0.0
        self.session_rate = 0.0
        self.remove_rate = 0.0
        self.rating_ewm: float | None = None
        self.applied: dict[str, int] = {}
        #: The ``id_token`` of the latest events, oldest first, concatenated.
        self.recent_event_ids = ""

    # -- exactly-once bookkeeping -------------------------------------------------

    def has_applied(self, event: Event, source: Source | None) -> bool:
        """True when this event (same source offset or same event id) is already in the state."""
        if source is not None and self.applied.get(source.topic, -1) >= source.offset:
            return True
        return _holds_token(self.recent_event_ids, id_token(event.event_id))

    def mark_applied(self, event: Event, source: Source | None) -> None:
        if source is not None:
            self.applied[source.topic] = source.offset
        recent = self.recent_event_ids + id_token(event.event_id)
        self.recent_event_ids = recent[-RECENT_EVENT_IDS * TOKEN_CHARS :]

    # -- updates ------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one valid event into the totals."""
        ts = event.ts
        if self.first_seen_ts is None or ts < self.first_seen_ts:
            self.first_seen_ts = ts
        if self.last_event_ts is None or ts > self.last_event_ts:
            self.last_event_ts = ts
        if isinstance(event, Order):
            self._apply_order(event)
        elif isinstance(event, Click):
            self._apply_click(event)
        else:
            self._apply_review(event)

    def _apply_order(self, order: Order) -> None:
        if order.status != "placed":
            # A cancellation or refund takes the money back but the visit happened.
            self.returns += 1
            self.spend = _money(self.spend - order.amount)
            return
        self.orders += 1
        self.spend = _money(self.spend + order.amount)
        self.recent_order_ts.append(order.ts)
        if len(self.recent_order_ts) > RECENT_ORDERS:
            del self.recent_order_ts[0]
        if self.last_order_ts is not None and order.ts >= self.last_order_ts:
            self._add_gap((order.ts - self.last_order_ts) / MS_PER_DAY)
        if self.first_order_ts is None or order.ts < self.first_order_ts:
            self.first_order_ts = order.ts
        if self.last_order_ts is None or order.ts > self.last_order_ts:
            self.last_order_ts = order.ts

    def _add_gap(self, gap_days: float) -> None:
        # Welford's running mean and variance of inter-order gaps.
        self.gap_count += 1
        delta = gap_days - self.gap_mean_days
        self.gap_mean_days += delta / self.gap_count
        self.gap_m2 += delta * (gap_days - self.gap_mean_days)

    def _apply_click(self, click: Click) -> None:
        self.clicks += 1
        self._decay(click.ts)
        self.click_rate += 1.0
        if click.action == "remove_from_cart":
            self.remove_rate += 1.0
        session = id_token(click.session_id)
        if self.recent_sessions.endswith(session):
            self.session_clicks += 1
        else:
            self._start_session(click.ts)
        self._count_session_click(click)
        if not _holds_token(self.recent_sessions, session):
            self.sessions += 1
            self.session_rate += 1.0
            self.recent_sessions = (self.recent_sessions + session)[-RECENT_SESSIONS * TOKEN_CHARS :]

    def _start_session(self, ts: int) -> None:
        self.session_clicks = 1
        self.session_start_ts = ts
        self.session_actions = [0] * len(SESSION_ACTIONS)
        self.session_product_views = 0
        self.session_products = ""
        self.session_dwell_ms = 0
        self.session_product_view_ts = None

    def _count_session_click(self, click: Click) -> None:
        if click.action in SESSION_ACTIONS:
            self.session_actions[SESSION_ACTIONS.index(click.action)] += 1
        if self.session_product_view_ts is not None and click.ts > self.session_product_view_ts:
            self.session_dwell_ms += click.ts - self.session_product_view_ts
        product_view = click.action == "view" and click.product_id is not None
        self.session_product_view_ts = click.ts if product_view else None
        self.session_product_views += product_view
        products = self.session_products
        if click.product_id is not None and len(products) < SESSION_PRODUCTS * TOKEN_CHARS:
            product = id_token(click.product_id)
            if not _holds_token(products, product):
                self.session_products = products + product

    def _apply_review(self, review: Review) -> None:
        self.reviews += 1
        self.rating_sum += review.rating
        previous = self.rating_ewm
        self.rating_ewm = review.rating if previous is None else previous + RATING_ALPHA * (review.rating - previous)

    def _decay(self, ts: int) -> None:
        """Bring the decayed rates to event time ``ts`` (late events decay nothing)."""
        if self.activity_ts is not None and ts > self.activity_ts:
            factor = math.exp(-(ts - self.activity_ts) / ACTIVITY_TAU_MS)
            self.click_rate *= factor
            self.session_rate *= factor
            self.remove_rate *= factor
        if self.activity_ts is None or ts > self.activity_ts:
            self.activity_ts = ts

    def rates_at(self, ts: int) -> tuple[float, float, float]:
        """Decayed (clicks, sessions, cart removals) as of ``ts``, without changing the state."""
        if self.activity_ts is None:
            return 0.0, 0.0, 0.0
        factor = math.exp(-max(0, ts - self.activity_ts) / ACTIVITY_TAU_MS)
        return self.click_rate * factor, self.session_rate * factor, self.remove_rate * factor

    def orders_since(self, ts: int) -> int:
        """Placed orders at or after ``ts`` among the most recent ones."""
        return sum(1 for order_ts in self.recent_order_ts if order_ts >= ts)

    # -- views --------------------------------------------------------------------

    @property
    def distinct_products(self) -> int:
        """Products seen this session (up to ``SESSION_PRODUCTS``)."""
        return len(self.session_products) // TOKEN_CHARS

    @property
    def avg_rating(self) -> float | None:
        return self.rating_sum / self.reviews if self.reviews else None

    @property
    def usual_gap_days(self) -> float | None:
        return self.gap_mean_days if self.gap_count else None

    def days_since_last_order(self, now_ts: int) -> float | None:
        if self.last_order_ts is None:
            return None
        return max(0, now_ts - self.last_order_ts) / MS_PER_DAY

    # -- persistence --------------------------------------------------------------

    def to_list(self) -> list[Any]:
        """Positional encoding: about half the bytes of a keyed dict in the changelog."""
        return [STATE_VERSION, *_FIELDS(self)]

    @classmethod
    def from_list(cls, data: list[Any]) -> CustomerState:
        """Decode ``to_list`` output, this version's or an earlier one's (rolling upgrades)."""
        if data and data[0] == 1 and len(data) == len(_V1_SLOTS) + 1:
            values = dict(zip(_V1_SLOTS, data[1:], strict=True))
            data = [2, *(values.get(name, _added_in_v2(name)) for name in cls.__slots__)]
        if data and data[0] == 2 and len(data) == len(cls.__slots__) + 1:
            data = _v2_to_v3(data)
        if data and data[0] == 3 and len(data) == len(cls.__slots__) + 1:
            data = _v3_to_v4(data)
        if not data or data[0] != STATE_VERSION or len(data) != len(cls.__slots__) + 1:
            raise ValueError(f"not a version {STATE_VERSION} customer state")
        state = cls.__new__(cls)
        for name, value in zip(cls.__slots__, data[1:], strict=True):
            setattr(state, name, value)
        return state

    def copy(self) -> CustomerState:
        """An independent copy: later events applied to ``self`` leave it unchanged."""
        data = [list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v for v in self.to_list()]
        return CustomerState.from_list(data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CustomerState) and self.to_list() == other.to_list()

    def __repr__(self) -> str:
        return (
            f"CustomerState({self.customer_id!r}, orders={self.orders}, spend={self.spend:.2f}, clicks={self.clicks})"
        )


def _added_in_v2(name: str) -> Any:
    """The value a version-1 state gets for a slot added in version 2, in version 2's form."""
    if name == "session_products":
        return []
    return getattr(CustomerState(""), name)


def _v2_to_v3(data: list[Any]) -> list[Any]:
    """Version 3 keeps the recent event ids as tokens; version 2 kept them as a list."""
    ids = data[_RECENT_IDS_AT]
    if not isinstance(ids, list):
        return data
    upgraded = [3, *data[1:]]
    upgraded[_RECENT_IDS_AT] = _tokens(ids[-RECENT_EVENT_IDS:])
    return upgraded


def _v3_to_v4(data: list[Any]) -> list[Any]:
    """Version 4 keeps recent sessions and the session's products as tokens, like event ids,
    and each rule's last alert (``models.alerts.RuleMemory``, last entry) as JSON text."""
    sessions, products, alerts = data[_SESSIONS_AT], data[_PRODUCTS_AT], data[_ALERTS_AT]
    if not isinstance(sessions, list) or not isinstance(products, list) or not isinstance(alerts, dict):
        return data
    upgraded = [4, *data[1:]]
    upgraded[_SESSIONS_AT] = _tokens(sessions[-RECENT_SESSIONS:])
    upgraded[_PRODUCTS_AT] = _tokens(products[:SESSION_PRODUCTS])
    upgraded[_ALERTS_AT] = {rule: _alert_as_text(memory) for rule, memory in alerts.items()}
    return upgraded


def _alert_as_text(memory: list[Any]) -> list[Any]:
    alert = memory[-1]
    return [*memory[:-1], dumps(alert).decode()] if isinstance(alert, dict) else memory


_RECENT_IDS_AT = 1 + CustomerState.__slots__.index("recent_event_ids")
_SESSIONS_AT = 1 + CustomerState.__slots__.index("recent_sessions")
_PRODUCTS_AT = 1 + CustomerState.__slots__.index("session_products")
_ALERTS_AT = 1 + CustomerState.__slots__.index("alerts")
_V2_ADDED = (
    "alerts",
    "segment",
    "sentiment",
    "session_actions",
    "session_dwell_ms",
    "session_product_view_ts",
    "session_product_views",
    "session_products",
)
#: Every slot of a state, read in one call: ``to_list`` runs for each changed customer of a batch.
_FIELDS = operator.attrgetter(*CustomerState.__slots__)
_V1_SLOTS = tuple(name for name in CustomerState.__slots__ if name not in _V2_ADDED)
