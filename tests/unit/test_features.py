"""Packed feature sets: what open sessions and pending labels keep."""

from models.features import pack, unpack


def test_packed_features_come_back_exactly_and_share_their_names():
    x = {"b": 0.1, "a": -3.0, "c": 1e-300, "d": 12345678.901234567}
    packed, again = pack(x), pack(dict(x))
    assert unpack(packed) == x and list(unpack(packed)) == ["b", "a", "c", "d"]
    assert packed[0] is again[0], "one tuple of names per feature set"
