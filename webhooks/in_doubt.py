"""Sends in doubt: which of the messages Twilio lists for a recipient are the ones we may have sent.

A send is in doubt when it may have reached Twilio without its answer being recorded (core/outbox.py).
The sender lists the recipient's messages at Twilio for the days of the attempt and matches them here,
then records what matched and sends the rest (CONTRACT §5).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core import outbox

# How far back a lookup reads Twilio's list: the days from the attempt's to today, at most this many.
LOOKUP_DAYS = 3


@dataclass
class Listed:
    """A message Twilio holds for a recipient, as its list shows it."""

    sid: str
    status: str
    body: str
    created: datetime


def lookup_days(since: datetime, now: datetime) -> list[date]:
    """The UTC days to list: from the attempt's day to today, at least one, at most LOOKUP_DAYS."""
    count = max(1, min((now.date() - since.date()).days + 1, LOOKUP_DAYS))
    return [since.date() + timedelta(days=n) for n in range(count)]


def shows(message: outbox.Claimed, body: str) -> bool:
    """Whether Twilio's body is this message: the text itself, or for a template (whose text Twilio
    fills in) every one of its variables."""
    if message.content_sid:
        values = [str(v) for v in json.loads(message.content_variables or "{}").values() if str(v)]
        return bool(values) and all(v in body for v in values)
    return body.strip() == message.body.strip()


def match(messages: Iterable[outbox.Claimed], listed: Iterable[Listed], known: set[str]) -> dict[int, Listed]:
    """Message id -> the Twilio message that is it: same text, created at or after the second its
    attempt began, not recorded on another message. Oldest first on both sides, each taken once, so
    two messages of the same text to one recipient find one Twilio message each."""
    free = sorted((m for m in listed if m.sid not in known), key=lambda m: m.created)
    found: dict[int, Listed] = {}
    for message in sorted(messages, key=lambda m: m.id):
        since = message.in_doubt_since.replace(microsecond=0)
        twin = next((m for m in free if m.created >= since and shows(message, m.body)), None)
        if twin is not None:
            found[message.id] = twin
            free.remove(twin)
    return found
