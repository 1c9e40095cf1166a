"""Phone numbers in E.164, whatever way a customer or Twilio writes them."""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from core.errors import InvalidField


def to_e164(raw: str, region: str, field: str = "customerPhone") -> str:
    """`0712 345 678` (region KE), `+254712345678` and `whatsapp:+254712345678` are one number."""
    e164 = _e164(raw or "", region)
    if e164 is None:
        raise InvalidField(field, raw, f"{raw!r} is not a valid phone number (local numbers are read as region {region})")
    return e164


@lru_cache(maxsize=8192)
def _e164(raw: str, region: str) -> str | None:
    """Parsing a number costs more than a checkout's SQL; the same numbers come back all day."""
    text = raw.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:"):]
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_e164(raw: str, region: str) -> str | None:
    return _e164(raw or "", region)


# Not inside a word or a reference (LEG-1795984744-2N20 keeps its stamp): a phone stands on its own.
_DIGIT_RUN = re.compile(r"(?<![\w-])\+?\d[\d ]{5,}\d(?![\w-])")


def mask(phone: str) -> str:
    """A phone number for a log line: all but its last 3 digits hidden, '+254712345678' -> '+•••678'."""
    digits = re.sub(r"\D", "", phone)
    return f"+•••{digits[-3:]}" if len(digits) > 3 else "•••"


def mask_in(text: str) -> str:
    """`text` with every phone-like run of 7 or more digits masked as mask() does."""
    return _DIGIT_RUN.sub(lambda m: mask(m[0]) if len(re.sub(r"\D", "", m[0])) >= 7 else m[0], text)
