"""WhatsApp messages built to the webhook's own cap (20,000 characters) to cost the most or produce
the most: the tests count what they yield (readings, proofs, characters sent) and `make bench`
times the payment reader on them. Issue 12 item 6 measured the first three end to end."""
from __future__ import annotations

from collections.abc import Callable
from itertools import count

SIZE = 20_000  # webhooks/twilio.py MAX_BODY_CHARS: what a stored message can hold


def repeat(piece: Callable[[int], str], size: int = SIZE) -> str:
    """`piece(10) + piece(11) + …` for as long as the whole stays within `size` characters."""
    parts, length = [], 0
    for n in count(10):
        part = piece(n)
        if length + len(part) > size:
            return "".join(parts)
        parts.append(part)
        length += len(part)
    raise AssertionError("unreachable")


# name -> text. The first three are the issue's: claims that blocked the server for 2.0 s,
# confirmations without a code that wrote 1,109 proofs, and confirmations with distinct codes that
# wrote 526 proofs and an admin alert of 3.37 million characters.
HOSTILE: dict[str, str] = {
    "claims": repeat(lambda n: f"paid {n}. "),
    "sent to, no code": repeat(lambda n: f"Ksh{n} sent to A. "),
    "distinct codes": repeat(lambda n: f"QJK{n:07d} Confirmed. Ksh{n} sent to A. "),
    "one code, many amounts": repeat(lambda n: f"QJK3ABCD12 Confirmed. Ksh{n} sent to A. "),
    "codes alone": repeat(lambda n: f"I have paid QJK{n:07d} "),
    "airtel, TID last": repeat(lambda n: f"You have sent UGX {n} to X on 1 at 2 "),
    "mtn, code far away": repeat(lambda n: f"Payment made for GHS {n}.00 to A. " + "x" * 250 + " "),
    "claim, then many codes": "I sent 3,000. " + repeat(lambda n: f"code {n:08d} ", SIZE - 14),
}
