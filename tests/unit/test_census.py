from models.census import Census
from models.events import Order
from models.features import churn_features
from models.state import CustomerState

DAY = 86_400_000


def bought(customer: str, ts: int, state: CustomerState | None = None) -> CustomerState:
    state = state or CustomerState(customer)
    state.apply(Order(f"{customer}-{ts}", customer, ts, f"o-{ts}", 20.0, "USD", 1, None, "placed"))
    return state


def test_census_times_are_on_a_fixed_grid_and_each_is_taken_once():
    census = Census(every_ms=14 * DAY)
    census.record(bought("c1", 3 * DAY), 3 * DAY)
    assert census.due(14 * DAY) == [], "an event exactly at a census time belongs to it"
    assert census.due(14 * DAY + 1) == [14 * DAY]
    assert census.due(60 * DAY) == [28 * DAY, 42 * DAY, 56 * DAY]
    assert census.due(60 * DAY) == []


def test_members_are_seen_as_of_their_last_event_before_the_census_time():
    census = Census(every_ms=14 * DAY)
    state = bought("c1", 0)
    census.record(state, 0)
    # The engine takes a census that an event passes before applying the event.
    assert census.due(20 * DAY) == [14 * DAY]
    ((customer, member),) = census.members(14 * DAY)
    assert customer == "c1" and member.orders == 1
    # Features age with the census time: 14 quiet days since the only order.
    assert churn_features(member, 14 * DAY)["days_since_last_order"] == 14.0


def test_members_first_seen_after_the_census_time_are_left_out():
    census = Census()
    census.record(bought("c1", 30 * DAY), 30 * DAY)
    assert list(census.members(29 * DAY)) == []


def test_a_full_census_keeps_a_stable_hash_sample():
    census = Census(max_customers=500)
    for n in range(5000):
        census.record(bought(f"c{n}", n), n)
    kept = set(census.entries)
    assert 250 <= len(kept) <= 500
    assert all(key < census.threshold for key, _state in census.entries.values())
    # Same customers, other order: same sample, same iteration order.
    again = Census(max_customers=500)
    for n in reversed(range(5000)):
        again.record(bought(f"c{n}", n), n)
    assert set(again.entries) == kept
    assert [c for c, _ in again.members(10**9)] == [c for c, _ in census.members(10**9)]
