"""Read forwarded mobile-money confirmations and bank alerts: provider, transaction code, amount,
currency, who was paid, when, and the Paybill account (which often holds the order reference).

Customers paste the provider's own SMS into WhatsApp — M-PESA, Airtel Money, MTN MoMo, Mixx by Yas,
Selcom, a bank's debit alert: the formats are the table in bot/providers.py — or just
write "I sent 3,000". `read_payment_text` turns either into `PaymentRead`s; it never decides what
a read means for an order (that is the caller's job, with `check_amount` for the amount).

What it will not do is guess. A read it is unsure of carries `doubts`, sentences an admin can act
on: an amount that is not a number or is beyond belief, a confirmation without a code, two
different codes in one message, a date that does not exist. The balance, the transaction cost and
the daily limit in a confirmation are never the amount paid: the amount is taken only from the
clause that says what was sent or paid.

For the caller: a read that is not a claim (a provider's confirmation) makes the message a payment
report even where `is_payment_text` sees no payment phrase in it; a claim ("I sent 3,000", or
just a quoted code) only adds detail to a message that `is_payment_text` already reports, since a
question like "is delivery paid 200 extra?" reads as a claim too. A read with doubts is shown as
doubtful (say, a `doubtful_read` flag plus the doubts), never as a match.

A shop adds a format by adding a `Format` to bot/providers.py, with real-looking samples (the
tests read every sample back). Every gap in the patterns is bounded and a name, once ended, is not
retried longer, so the patterns cost a constant per character. What is done with their matches is
linear too (no read is compared with every other), and what comes out is bounded whatever comes
in: at most `MAX_READS_PER_MESSAGE` reads, each doubt one short line. tests/hostile_texts.py holds
the inputs that broke these bounds once, and `make bench` times the reader on them.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from bot.payments import is_payment_text, is_prefilled_order_message
from bot.providers import CURRENCY as _CURRENCY
from bot.providers import CURRENCY_WORDS, FORMATS, LABELLED_CODE, WHEN, Format
from bot.providers import NUMBER as _NUMBER
from bot.replies import listed
from core.money import check_amount, format_money  # noqa: F401 (the bot reads them from here too)

CENT = Decimal("0.01")

# Above this an amount is beyond belief for a shop's order (single mobile-money transfers are
# capped far lower). Currencies with small units get a larger ceiling.
DEFAULT_AMOUNT_CAP = Decimal(10_000_000)
AMOUNT_CAPS: dict[str, Decimal] = {code: Decimal(100_000_000) for code in ("UGX", "TZS", "RWF", "MWK")}

# At most this many payments are read from one message. A forward holds one confirmation, and a
# customer paying in parts pastes two or three; hundreds in one message are a paste gone wrong or an
# attack (one such message once wrote 1,109 proofs on an order). The first ones are read, and each
# carries a doubt saying the rest were not, so the admins see it on every proof of that message.
MAX_READS_PER_MESSAGE = 5


@dataclass
class PaymentRead:
    """One payment read from a message. `doubts` empty means the read can be shown as fact."""
    provider: str | None            # "M-PESA", "Airtel Money", "MTN MoMo"; None for a customer's claim
    kind: str                       # "send money", "Paybill", "Buy Goods", "payment", or "claim"
    transaction_code: str | None
    amount: Decimal | None          # 2 decimal places; None when there is no amount or it is unreadable
    currency: str                   # ISO code
    counterparty: str | None = None  # who was paid, as the provider wrote it ("LEGO MENSWEAR 0712345678")
    time: datetime | None = None    # naive, the provider's local time; None unless date and time were given
    account: str | None = None      # Paybill "for account …", MTN "Reference:"/"Reason:": look for an order ref here
    doubts: list[str] = field(default_factory=list)

    @property
    def doubtful(self) -> bool:
        return bool(self.doubts)


# --- A customer's own words: "I sent 3,000", "paid KES 3000", "nimetuma 2,500".
_CLAIM_VERBS = ("sent", "paid", "transferred", "deposited", "payment of", "nimetuma", "nimeshatuma",
                "nimekutumia", "nimelipa", "nimeshalipa", "nimelipia", "nimepay", "nimeshapay", "nimesend",
                "nimetransfer")
_CLAIM_FILLERS = ("you", "u", "ya", "the", "money", "cash", "pesa", "amount", "of", "a", "total", "already",
                  "just", "now", "kiasi", "another", "over", "only", "exactly", "full")
_CLAIM = re.compile(
    rf"(?<![A-Za-z])(?:{'|'.join(_CLAIM_VERBS)}):?\s(?:(?:{'|'.join(_CLAIM_FILLERS)})\s){{0,3}}"
    rf"(?:(?P<currency>{_CURRENCY})\.?\s?)?(?P<amount>{_NUMBER})(?:\s?(?P<currency_after>{_CURRENCY}))?"
    r"(?![0-9A-Za-z])(?!\s[0-9])(?![/:\-][0-9A-Za-z])(?!\s?%)"   # not "3 000", "10e400", a date, a reference
    r"(?!\s?(?:min|mins|minutes|hrs?|hours?|days?|weeks?|am|pm|times|items?|pcs|pieces)\b)",
    re.IGNORECASE,
)
# A claim preceded (within three words) by one of these is denied, promised or conditional.
_NOT_YET = frozenset({"not", "never", "havent", "hasnt", "didnt", "dont", "wont", "will", "would", "shall",
                      "cant", "cannot", "if", "once", "when", "before", "until", "unless", "be", "bado", "kama"})

# Codes anywhere in the message: an M-PESA-shaped word as M-PESA writes it (upper case), or a labelled one.
_CODE_MENTIONS = (
    # Not a masked account number (`30XXXX1234`), which bank alerts print beside the payment.
    re.compile(r"(?<![A-Za-z0-9-])(?=[A-Z]{0,9}[0-9])(?=[0-9]{0,9}[A-Z])(?![A-Z0-9]{0,7}XXX)[A-Z0-9]{10}"
               r"(?![A-Za-z0-9-])"),
    re.compile(r"(?<![A-Za-z])(?:TID|Trans(?:action)?\.?\s?ID|Txn\.?\s?ID|ID|code)\s?(?:is\s|ni\s)?:?\s?"
               + LABELLED_CODE, re.IGNORECASE),
)
# What the payer typed for the payee, where the format has no `account` group.
_NOTE = re.compile(r"(?:Reference|Reason|Message from sender)\s?:\s?(?P<account>[^.]{1,60})", re.IGNORECASE)
_WHEN_RE = re.compile(WHEN, re.IGNORECASE)
_AMOUNT_SHAPE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?|[0-9]+(?:\.[0-9]{1,2})?")
_DATE_FORMATS = ("%d/%m/%y", "%d/%m/%Y", "%Y-%m-%d", "%d-%B-%Y", "%d-%b-%Y")
_TIME_FORMATS = ("%I:%M %p", "%H:%M:%S", "%H:%M")

# Invisible format characters (zero-width, bidi controls, BOM) and WhatsApp markup (*bold*, _italic_,
# ~strike~, `mono`).
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_MARKUP = re.compile(r"[*~`]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")   # an underscore inside a word stays
_SPACES = re.compile(r"\s+")
_WORD_SPLIT = re.compile(r"[\W_]+")


def read_payment_text(text: str, default_currency: str, *, prefilled: bool | None = None,
                      says_paid: bool | None = None) -> list[PaymentRead]:
    """Every payment in `text`, in order of appearance; [] when there is none.

    Provider confirmations come first: when there is one, the customer's own words only add
    doubts (a different amount). Otherwise the customer's claims ("I sent 3,000") are read, with
    provider None and kind "claim", and a transaction code they quote is kept. `default_currency`
    (the shop's) is used when a claim names none. A message with more than one read is itself a
    doubt: each read says so, and none is picked for the caller. `prefilled` and `says_paid`:
    what bot/reading.py already knows of the text, so it is not scanned for them again.
    """
    if not text:
        return []
    clean = normalise(text)
    confirmations = _confirmations(clean)
    spans = [match.span() for _, match in confirmations]
    accounts = [account[1] for account in (_account(match) for _, match in confirmations) if account]
    mentioned = _mentioned_codes(clean, skip=accounts)
    if prefilled is None:
        prefilled = is_prefilled_order_message(text)
    claims = iter(()) if prefilled else _claims(clean, default_currency)

    if confirmations:
        reads, cut = _merge(_read(provider, match, default_currency) for provider, match in confirmations)
        read_amounts = {read.amount for read in reads}
        other = sorted({claim.amount for claim, span in claims
                        if claim.amount is not None and claim.amount not in read_amounts
                        and not _overlaps_any(span, spans)})
        if other:
            for read in reads:
                read.doubts.append(f"the message also says {listed([format_money(a) for a in other])}")
    else:
        reads, cut = _merge(claim for claim, _ in claims)
        if not reads and mentioned and (is_payment_text(clean) if says_paid is None else says_paid):
            reads = [PaymentRead(None, "claim", None, None, default_currency.upper())]
        for read in reads:
            read.transaction_code = mentioned[0] if len(mentioned) == 1 else None

    codes = list(dict.fromkeys([read.transaction_code for read in reads if read.transaction_code] + mentioned))
    for read in reads:
        if len(codes) > 1:
            read.doubts.append(f"{len(codes)} different transaction codes in one message: {listed(codes)}")
        if cut:
            read.doubts.append(f"more than {MAX_READS_PER_MESSAGE} payments in one message: "
                               f"only the first {MAX_READS_PER_MESSAGE} were read")
        elif len(reads) > 1 and len(codes) <= 1:
            read.doubts.append(f"{len(reads)} payments read from one message")
    return reads


def parse_amount(raw: str) -> Decimal | None:
    """Money as people and providers write it: `3,000`, `3000`, `3,000.00`, `1500.5` -> a Decimal
    with 2 places. None for anything else: `NaN`, `inf`, `1e400`, `-3000`, `3.000,00`, three
    decimals, more digits than a Decimal holds. A trailing `.` or `,` (a sentence's end) is ignored."""
    number = raw.rstrip(".,")
    if not _AMOUNT_SHAPE.fullmatch(number):
        return None
    try:
        return Decimal(number.replace(",", "")).quantize(CENT)
    except InvalidOperation:
        return None


def amount_cap(currency: str) -> Decimal:
    """The largest amount believable for one payment in `currency` (an ISO code)."""
    return AMOUNT_CAPS.get(currency.upper(), DEFAULT_AMOUNT_CAP)


def normalise(text: str) -> str:
    """The text the patterns read: no invisible characters or WhatsApp markup, one space between words."""
    return _SPACES.sub(" ", _MARKUP.sub("", _INVISIBLE.sub("", text))).strip()


# --- Reading ----------------------------------------------------------------------------------

Span = tuple[int, int]


def _confirmations(text: str, formats: tuple[tuple[str, Format], ...] = FORMATS
                   ) -> list[tuple[tuple[str, Format], re.Match[str]]]:
    """Each confirmation in `text`, in order; where two formats match overlapping text, the earlier
    match wins, then the earlier table entry. Every pattern scans the text once."""
    candidates = sorted(((match.start(), index, match) for index, (_, fmt) in enumerate(formats)
                         for match in fmt.regex.finditer(text)), key=lambda c: (c[0], c[1]))
    found, taken_until = [], -1
    for start, index, match in candidates:
        if start < taken_until:
            continue
        taken_until = match.end()
        found.append((formats[index], match))
    return found


def _read(entry: tuple[str, Format], match: re.Match[str], default_currency: str) -> PaymentRead:
    (provider, fmt), groups = entry, match.groupdict()
    doubts: list[str] = []
    currency = _currency(groups.get("currency") or groups.get("currency_after"), default_currency)
    amount = _amount(groups.get("amount") or groups.get("amount_after") or groups.get("amount_bare"),
                     currency, doubts)
    described = read_description(groups.get("desc") or "")
    code = (groups.get("code") or described["code"] or "").upper() or None
    if code is None:
        doubts.append("no transaction code in the confirmation")
    account = _account(match)
    return PaymentRead(
        provider=provider, kind=fmt.kind, transaction_code=code, amount=amount, currency=currency,
        counterparty=_clip(groups.get("counterparty") or described["payee"]), time=_time(match.group(), doubts),
        account=account[0] if account else None, doubts=doubts,
    )


# A bank alert's description (`NIP TRF TO DEMO SHOP/000013251129193012345678`, `TRF TO DEMO SHOP
# REF:FBN26112912345`): the payee after "TO", and the transfer's reference — labelled, or the NIP
# session id (a long run of digits). Read from the description only, at most 120 characters.
_DESC_PAYEE = re.compile(r"(?<![A-Za-z])TO\s(?P<payee>[A-Za-z][A-Za-z0-9 .&'-]{0,60}?)"
                         r"(?=\s?/|\s(?:REF|LEG|[0-9])|\s*$)", re.IGNORECASE)
_DESC_CODE = re.compile(r"(?<![A-Za-z])REF\s?:?\s?(?P<labelled>(?=[A-Z]{0,19}[0-9])[A-Z0-9]{6,30})"
                        r"|(?<![0-9A-Za-z-])(?P<session>[0-9]{12,30})(?![0-9A-Za-z-])", re.IGNORECASE)


def read_description(desc: str) -> dict[str, str | None]:
    """{payee, code} from a bank alert's `Desc:` line (empty: both None)."""
    payee, code = _DESC_PAYEE.search(desc), _DESC_CODE.search(desc)
    return {"payee": payee["payee"] if payee else None,
            "code": (code["labelled"] or code["session"]) if code else None}


def _account(match: re.Match[str]) -> tuple[str, Span] | None:
    """What the payer typed for the payee, and where: the format's `account` group (a bank alert's
    description), else a "Reference:"/"Reason:"/"Message from sender:" note inside the confirmation."""
    for group in ("account", "desc"):
        if match.groupdict().get(group) and _clip(match[group]):
            return _clip(match[group]), match.span(group)
    note = _NOTE.search(match.group())
    if note and _clip(note["account"]):
        return _clip(note["account"]), (match.start() + note.start("account"), match.start() + note.end("account"))
    return None


def _claims(text: str, default_currency: str) -> Iterator[tuple[PaymentRead, Span]]:
    """The customer's own "I sent 3,000"s, in order, each read only when asked for."""
    for match in _CLAIM.finditer(text):
        if any(word in _NOT_YET for word in _words(text[max(0, match.start() - 40):match.start()])[-3:]):
            continue
        currency_word = match["currency"] or match["currency_after"]
        digits = re.sub(r"[^0-9]", "", match["amount"])
        if not currency_word and (len(digits) < 2 or (digits.startswith("0") and len(digits) >= 9)):
            continue   # "paid 2 times", a phone number: not an amount
        doubts: list[str] = []
        currency = _currency(currency_word, default_currency)
        amount = _amount(match["amount"], currency, doubts)
        yield PaymentRead(None, "claim", None, amount, currency, doubts=doubts), match.span()


def _mentioned_codes(text: str, skip: list[Span]) -> list[str]:
    """Transaction codes anywhere in the text, each once, in order; none from inside `skip` (account
    texts, where an account number can look like a code)."""
    found = []
    for pattern in _CODE_MENTIONS:
        for match in pattern.finditer(text):
            span = match.span("code") if pattern.groupindex else match.span()
            if not _overlaps_any(span, skip):
                found.append((span[0], text[span[0]:span[1]].upper()))
    return list(dict.fromkeys(code for _, code in sorted(found)))


def _merge(reads: Iterable[PaymentRead]) -> tuple[list[PaymentRead], bool]:
    """One read per payment, at most `MAX_READS_PER_MESSAGE` of them, and whether more were left
    unread (`reads` is consumed no further). A code quoted twice is one payment; quoted with two
    amounts, one doubtful read."""
    merged: dict[tuple, PaymentRead] = {}
    quoted: dict[tuple, dict[tuple, None]] = {}   # payment -> its (amount, currency)s, in order
    for read in reads:
        key = _payment(read)
        if key not in merged:
            if len(merged) == MAX_READS_PER_MESSAGE:
                return _doubt_amounts(merged, quoted), True
            merged[key], quoted[key] = read, {}
        quoted[key][(read.amount, read.currency)] = None
    return _doubt_amounts(merged, quoted), False


def _payment(read: PaymentRead) -> tuple:
    """What makes two reads one payment: the code when there is one, else everything read."""
    if read.transaction_code:
        return ("code", read.transaction_code)
    return (read.provider, read.kind, read.amount, read.currency, read.counterparty)


def _doubt_amounts(merged: dict[tuple, PaymentRead], quoted: dict[tuple, dict]) -> list[PaymentRead]:
    for key, read in merged.items():
        if len(quoted[key]) > 1:
            amounts = [format_money(amount) for amount, _ in quoted[key] if amount is not None]
            read.doubts.append(f"code {read.transaction_code} is quoted with different amounts: {listed(amounts)}")
    return list(merged.values())


def _amount(raw: str | None, currency: str, doubts: list[str]) -> Decimal | None:
    if raw is None:
        doubts.append("no amount")
        return None
    amount = parse_amount(raw)
    if amount is None:
        doubts.append(f"the amount {raw!r} is not a number that can be read")
        return None
    cap = amount_cap(currency)
    if amount == 0:
        doubts.append("the amount is zero")
    elif amount > cap:
        doubts.append(f"the amount {format_money(amount)} is beyond belief (over {format_money(cap)} {currency})")
    return amount


def _currency(word: str | None, default_currency: str) -> str:
    code = CURRENCY_WORDS.get(word.lower()) if word else None
    return code or default_currency.upper()


def _time(confirmation: str, doubts: list[str]) -> datetime | None:
    """The date and time inside a confirmation, naive. M-PESA writes d/m/yy."""
    match = _WHEN_RE.search(confirmation)
    if not match:
        return None
    date_text, time_text = match["date"], match["time"]
    day = next((d for d in (_strptime(date_text, f) for f in _DATE_FORMATS) if d), None)
    if day is None:
        doubts.append(f"the date {date_text!r} does not exist")
        return None
    if time_text is None:
        return None
    clock_text = re.sub(r"\s?([AP]M)$", r" \1", time_text.upper().replace(".", ":"))
    clock = next((c for c in (_strptime(clock_text, f) for f in _TIME_FORMATS) if c), None)
    if clock is None:
        doubts.append(f"the time {time_text!r} does not exist")
        return None
    return datetime.combine(day.date(), clock.time())


def _strptime(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


def _clip(text: str | None) -> str | None:
    cleaned = (text or "").strip(" .,;:-")
    return cleaned or None


def _words(text: str) -> list[str]:
    return _WORD_SPLIT.sub(" ", text.casefold().replace("'", "").replace("\u2019", "")).split()


def _overlaps_any(span: Span, spans: list[Span]) -> bool:
    """Whether `span` overlaps one of `spans` (in order, not overlapping each other): a binary search."""
    after = bisect_left(spans, (span[1],))   # the first that starts at or after the end of `span`
    return after > 0 and spans[after - 1][1] > span[0]
