"""Order references: `<PREFIX>-<stamp>-<tail>`, stamp in decimal seconds or upper-case base-36 milliseconds."""
from __future__ import annotations

import re
import secrets
import string
from datetime import datetime

_TAIL_ALPHABET = string.ascii_uppercase + string.digits
# A canonical reference as stored: upper case, dash separated.
CANONICAL = re.compile(r"^[A-Z][A-Z0-9]{0,9}-(?:\d{9,11}|[0-9A-Z]{7,9})-[A-Z0-9]{4}$")


def new_reference(prefix: str, now: datetime) -> str:
    tail = "".join(secrets.choice(_TAIL_ALPHABET) for _ in range(4))
    return f"{prefix.upper()}-{int(now.timestamp())}-{tail}"


def canonical(text: str) -> str | None:
    """`leg 1738704998 x7k2`, `#LEG-1738704998-X7K2`, `LEG1738704998X7K2` -> `LEG-1738704998-X7K2`."""
    cleaned = text.strip().lstrip("#").upper()
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
