"""Message delivery policy, in one place: what is retried, how soon, and what is final."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

SEND_TIMEOUT_S = 15
# A claim lasts this long unless renewed (every third of it, while its pass runs): a process that
# dies mid-pass lets its messages go to the others within one lease (CONTRACT §5: 30 s).
LEASE = timedelta(seconds=15)


@dataclass(frozen=True)
class Policy:
    """How hard we try: attempts in all, and the full-jitter backoff between them."""

    max_attempts: int = 8
    backoff_first: timedelta = timedelta(seconds=2)
    backoff_cap: timedelta = timedelta(minutes=15)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """A random wait up to first × 2^(attempt-1), capped, so retries of many messages spread out."""
        ceiling = min(self.backoff_cap, self.backoff_first * (2 ** max(attempt - 1, 0)))
        return ceiling * (rng or random).random()


# Twilio error codes that no retry can fix, with the words an admin reads.
PERMANENT_CODES: dict[int, str] = {
    21211: "the number is not a valid phone number",
    21408: "the shop's Twilio account cannot send to this region",
    21610: "the customer has blocked messages from the shop (STOP on Twilio)",
    21614: "the number is not a mobile number",
    63003: "the number is not on WhatsApp",
    63016: "outside WhatsApp's 24-hour window and no approved template was configured",
    63024: "the recipient is not a valid WhatsApp user",
    63032: "the customer opted out of the shop's messages on WhatsApp",
}
TRANSIENT_STATUSES = frozenset({408, 409, 429})


@dataclass
class SendFailure(Exception):
    """A send that did not go through: `transient` ones are retried with backoff. `in_doubt`: no
    answer came (time-out, dropped connection), so Twilio may have the message: it is looked up
    before the retry sends it."""

    transient: bool
    code: int | None
    reason: str
    in_doubt: bool = False

    def __str__(self) -> str:
        return f"{self.code or ''} {self.reason}".strip()


def classify(http_status: int | None, code: int | None, reason: str) -> SendFailure:
    if code in PERMANENT_CODES:
        return SendFailure(False, code, PERMANENT_CODES[code])
    transient = http_status is None or http_status >= 500 or http_status in TRANSIENT_STATUSES
    return SendFailure(transient, code, reason)


def reason_for(code: str | None, status: str = "failed") -> str:
    """What an admin reads about a message Twilio reported failed or undelivered."""
    try:
        known = PERMANENT_CODES.get(int(code)) if code else None
    except ValueError:
        known = None
    if known:
        return known
    return f"Twilio reported it {status}" + (f" (error {code})" if code else "")
