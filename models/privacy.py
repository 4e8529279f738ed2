"""Pseudonymous outputs: customer ids replaced by a keyed hash wherever a record leaves the engine.

HMAC-SHA256 under a secret key gives every customer one stable pseudonym (64 hex
characters), so consumers can still join, count and dedupe per customer, while nobody
without the key can go back to the id, not even by hashing a list of known ids. The
platform that holds the key can compute a customer's pseudonym to look it up.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any


class Pseudonymiser:
    """Maps customer ids to pseudonyms and rewrites the records that carry them.

    >>> p = Pseudonymiser(b"k")
    >>> p.pseudonym("c-1") == p.pseudonym("c-1") != p.pseudonym("c-2")
    True
    >>> len(p.pseudonym("c-1"))
    64
    """

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("a pseudonymisation key must not be empty")
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymiser(key=***)"

    def pseudonym(self, customer_id: str) -> str:
        return hmac.new(self._key, customer_id.encode(), hashlib.sha256).hexdigest()

    def score(self, record: dict[str, Any], pseudonym: str) -> dict[str, Any]:
        return {**record, "customer_id": pseudonym}

    def alert(self, record: dict[str, Any], pseudonym: str) -> dict[str, Any]:
        """The alert with its pseudonym; ids and dedupe keys derived from the pseudonym, not the id."""
        rule, customer_id = record["rule"], record["customer_id"]
        situation = record["dedupe_key"][len(rule) + len(customer_id) + 2 :]  # "rule:customer:situation"
        alert_id = hashlib.blake2b(f"{rule}|{pseudonym}|{record['event_id']}".encode(), digest_size=10).hexdigest()
        return {
            **record,
            "customer_id": pseudonym,
            "alert_id": alert_id,
            "dedupe_key": f"{rule}:{pseudonym}:{situation}",
        }

    @staticmethod
    def dead_letter(record: dict[str, Any]) -> dict[str, Any]:
        """A dead letter without its raw bytes: they may hold the id, and the input topic keeps them."""
        return {**record, "raw": ""}
