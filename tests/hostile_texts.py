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


def fill(piece: str, size: int = SIZE) -> str:
    """`piece` again and again, cut to `size` characters."""
    return (piece * (size // len(piece) + 1))[:size]


MPESA = ("QJK3ABCD12 Confirmed. Ksh3,000.00 sent to LEGO MENSWEAR 0712345678 on 4/2/26 at 9:36 PM. "
         "New M-PESA balance is Ksh1,234.00. Transaction cost, Ksh0.00.")

# name -> text. The first three are the issue's: claims that blocked the server for 2.0 s,
# confirmations without a code that wrote 1,109 proofs, and confirmations with distinct codes that
# wrote 526 proofs and an admin alert of 3.37 million characters. The rest aim at each pattern's
# gaps and repeats (catastrophic backtracking, were one unbounded).
HOSTILE: dict[str, str] = {
    "claims": repeat(lambda n: f"paid {n}. "),
    "sent to, no code": repeat(lambda n: f"Ksh{n} sent to A. "),
    "distinct codes": repeat(lambda n: f"QJK{n:07d} Confirmed. Ksh{n} sent to A. "),
    "one code, many amounts": repeat(lambda n: f"QJK3ABCD12 Confirmed. Ksh{n} sent to A. "),
    "codes alone": repeat(lambda n: f"I have paid QJK{n:07d} "),
    "airtel, TID last": repeat(lambda n: f"You have sent UGX {n} to X on 1 at 2 "),
    "mtn, code far away": repeat(lambda n: f"Payment made for GHS {n}.00 to A. " + "x" * 250 + " "),
    "claim, then many codes": "I sent 3,000. " + repeat(lambda n: f"code {n:08d} ", SIZE - 14),
    "letters": fill("a"),
    "digits": fill("9"),
    "currency, then digits": "Ksh" + fill("9", SIZE - 3),
    "thousands separators": fill("1,"),
    "emoji": fill("🙏"),
    "full stops": fill("x."),
    "confirmations cut before the name": fill("QJK3ABCD12 Confirmed. Ksh3,000.00 sent to "),
    "paybill without an account": fill("Ksh1 sent to for account "),
    "mtn without a name": fill("Payment made for GHS 1.00 to "),
    "airtel TIDs": fill("TID: MP1.2.3 "),
    "claims without amounts": fill("paid KES "),
    "verbs": fill("sent "),
    "one code again and again": fill("QJK3ABCD12 "),
    "dates": fill("4/2/26 at 9:36 PM "),
    "one confirmation pasted again and again": fill(MPESA + " "),
    "a confirmation after 19,000 characters": fill("blah ", SIZE - len(MPESA)) + MPESA,
}
