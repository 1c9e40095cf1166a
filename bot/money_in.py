"""Read the texts the shop's own phone gets when it is paid — "You have received Ksh3,000.00 from JOHN
DOE 0712345678 …", a Till or Paybill payment, Airtel Money, MTN MoMo, Mixx by Yas, a bank's credit
alert — into `MoneyIn`s, which core/ledger.py keeps as the shop's ledger (CONTRACT §4). The formats
are the `received` ones of bot/providers.py, each with real-looking samples.

Only money the text is sure of is read: an amount that is not a number, is zero or is beyond belief
makes the text not a money-in text, and nothing is kept. The balance, the charges and the amount
one may still transact are never the amount: it is taken only from the clause that says what was
received. The payer's phone is kept in E.164 when the text shows it whole, and as printed, marked
masked, when it hides digits (`0712***678`, `254712XXX678`): a masked number never matches an order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.payment_texts import _account, _amount, _clip, _confirmations, _currency, _time
from bot.providers import RECEIVED
from bot.references import find_references
from core import ledger
from core.ledger import Kept
from core.phones import try_e164

# Where a currency is spoken, for numbers written without their country code (0712345678 in KES).
REGION_OF_CURRENCY = {"KES": "KE", "TZS": "TZ", "UGX": "UG", "GHS": "GH", "NGN": "NG", "RWF": "RW",
                      "ZMW": "ZM", "MWK": "MW"}
# One SMS holds one payment; an admin pasting several into one WhatsApp message gets the first few kept.
MAX_PER_TEXT = 5
MASKS = re.compile(r"[*Xx•]")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
# A bank credit's description: who sent it ("TRF FROM AMINA OTIENO/…", "NIP FRM J.K. MWANGI 0000…") and
# the transfer's reference, labelled or the NIP session id.
_DESC_PAYER = re.compile(r"(?<![A-Za-z])(?:FROM|FRM)\s(?P<payer>[A-Za-z][A-Za-z .&'-]{0,60}?)"
                         r"(?=\s?/|\s(?:REF|LEG)\b|\s[0-9]|\s*$)", re.IGNORECASE)
_DESC_CODE = re.compile(r"(?<![A-Za-z])REF\s?:?\s?(?P<labelled>(?=[A-Z]{0,19}[0-9])[A-Z0-9]{6,30})"
                        r"|(?<![0-9A-Za-z-])(?P<session>[0-9]{12,30})(?![0-9A-Za-z-])", re.IGNORECASE)


@dataclass(frozen=True)
class MoneyIn:
    """One payment the shop received, as its own phone's text tells it."""
    provider: str                   # "M-PESA", "Airtel Money", "MTN MoMo", "Bank transfer", …
    kind: str                       # "received", "Till", "Paybill", "payment received", "credit alert"
    transaction_code: str | None
    amount: Decimal                 # two places
    currency: str                   # ISO code
    payer_name: str | None
    payer_phone: str | None         # E.164 when whole; as printed when masked (or unreadable)
    payer_phone_masked: bool
    account: str | None             # what the payer typed for the shop (Paybill account, Reason:, a bank's Desc:)
    time: datetime | None           # naive, the provider's local time, when the text gives date and time


def read_money_in(text: str, default_currency: str, default_region: str) -> list[MoneyIn]:
    """Every money-in confirmation in `text`, in order, each code once; [] when there is none."""
    if not text:
        return []
    clean = _SPACES.sub(" ", _INVISIBLE.sub("", text)).strip()   # masks (`*`) are kept: no markup here
    found: dict[str, MoneyIn] = {}
    for (provider, fmt), match in _confirmations(clean, RECEIVED):
        read = _read(provider, fmt.kind, match, default_currency, default_region)
        if read is not None:
            found.setdefault(read.transaction_code or f"#{len(found)}", read)
        if len(found) == MAX_PER_TEXT:
            break
    return list(found.values())


def _read(provider: str, kind: str, match: re.Match[str], default_currency: str,
          default_region: str) -> MoneyIn | None:
    groups, doubts = match.groupdict(), []
    currency = _currency(groups.get("currency") or groups.get("currency_after"), default_currency)
    amount = _amount(groups.get("amount") or groups.get("amount_after") or groups.get("amount_bare"),
                     currency, doubts)
    if amount is None or doubts:
        return None   # not money the shop can count on
    desc = groups.get("desc") or ""
    code = groups.get("code") or _desc_code(desc)
    payer = groups.get("payer") or _desc_payer(desc)
    phone, masked = _phone(groups.get("payer_phone"), currency, default_region)
    account = _account(match)
    return MoneyIn(provider=provider, kind=kind, transaction_code=code.upper() if code else None, amount=amount,
                   currency=currency, payer_name=_clip(payer), payer_phone=phone, payer_phone_masked=masked,
                   account=account[0] if account else None, time=_time(match.group(), []))


def _phone(printed: str | None, currency: str, default_region: str) -> tuple[str | None, bool]:
    """(the payer's phone, whether it is masked): E.164 when whole and valid, else as printed."""
    if not printed:
        return None, False
    if MASKS.search(printed):
        return printed, True
    region = REGION_OF_CURRENCY.get(currency, default_region)
    whole = try_e164(printed, region) or (None if printed.startswith("+") else try_e164("+" + printed, region))
    return whole or printed, False


def _desc_payer(desc: str) -> str | None:
    found = _DESC_PAYER.search(desc)
    return found["payer"] if found else None


def _desc_code(desc: str) -> str | None:
    found = _DESC_CODE.search(desc)
    return (found["labelled"] or found["session"]) if found else None


async def keep_text(uow, text: str, *, source: str, sender: str | None, received_at: datetime) -> list[Kept]:
    """Read `text` (a money-in SMS from the shop's phone) and keep each payment it holds in the shop's
    ledger, matched where it can be (core/ledger.py). [] when it is not a money-in text."""
    settings = uow.settings
    zone = ZoneInfo(settings.shop_timezone)
    kept = []
    for read in read_money_in(text, settings.currency, settings.default_region):
        references = find_references(read.account or "", [settings.order_reference_prefix])
        kept.append(await ledger.keep(uow, ledger.NewEntry(
            provider=read.provider, kind=read.kind, transaction_code=read.transaction_code, amount=read.amount,
            currency=read.currency, payer_name=read.payer_name, payer_phone=read.payer_phone,
            payer_phone_masked=read.payer_phone_masked, account=read.account,
            paid_at=read.time.replace(tzinfo=zone) if read.time else None, received_at=received_at,
            raw_text=text.strip(), source=source, sender=sender, references=references)))
    return kept
