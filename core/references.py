"""Order references: `<PREFIX>-<stamp>-<tail>`, stamp in decimal seconds or upper-case base-36 milliseconds."""
from __future__ import annotations

import re
import secrets
import string
from datetime import datetime

# Characters people mistake for one another when they copy a reference by eye (CONTRACT §4): never
# generated in a tail, and folded together in `lookup_key`.
LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_TAIL_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "O0I1L")
# Dashes that phone keyboards write for `-` (iOS smart punctuation makes `--` an em dash), and
# other dash characters people paste: hyphen, non-breaking hyphen, figure dash, en and em dash,
# horizontal bar, minus sign, small and full-width hyphen-minus.
DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"))
# A canonical reference as stored: upper case, dash separated.
CANONICAL = re.compile(r"^[A-Z][A-Z0-9]{0,9}-(?:\d{9,11}|[0-9A-Z]{7,9})-[A-Z0-9]{4}$")


def new_reference(prefix: str, now: datetime) -> str:
    tail = "".join(secrets.choice(_TAIL_ALPHABET) for _ in range(4))
    return f"{prefix.upper()}-{int(now.timestamp())}-{tail}"


def plain_dashes(text: str) -> str:
    """`LEG–1795969230–ORER` (en dashes) -> `LEG-1795969230-ORER`; same length, so positions hold."""
    return text.translate(DASHES)


def canonical(text: str) -> str | None:
    """`leg 1738704998 x7k2`, `#LEG-1738704998-X7K2`, `LEG1738704998X7K2` -> `LEG-1738704998-X7K2`."""
    cleaned = plain_dashes(text).strip().lstrip("#").upper()
    parts = [p for p in re.split(r"[\s\-_]+", cleaned) if p]
    if len(parts) == 1:
        match = re.match(r"^([A-Z]+)(\d{9,11}|[0-9A-Z]{7,9})([A-Z0-9]{4})$", parts[0])
        if not match:
            return None
        parts = list(match.groups())
    if len(parts) != 3:
        return None
    candidate = "-".join(parts)
    return candidate if CANONICAL.match(candidate) else None


def lookup_key(reference: str) -> str:
    """The form a canonical reference is looked up by when typed with look-alikes: `O`/`0` and
    `I`/`1`/`L` folded in the stamp and the tail only, since the prefix (`LEG`) holds real letters.
    `LEG-1795969230-ORER` and `LEG-1795969230-0RER` share the key `LEG-1795969230-0RER`."""
    prefix, _, rest = reference.partition("-")
    return f"{prefix}-{rest.translate(LOOK_ALIKES)}"
