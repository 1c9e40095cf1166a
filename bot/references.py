"""Find order references in what customers and admins write, whatever they wrap them in.

A reference is `<PREFIX>-<stamp>-<tail>` (core/references.py): the stamp is Unix seconds in
decimal (`1738704998`) or milliseconds in upper-case base 36 (`MGX2K7Q1`), the tail 4 letters
or digits. People write it with `-` (or a typographic dash: `–`, `—`, `‑`, `−`), `_`, spaces or
nothing between the parts, in any case,
after a `#`, in WhatsApp bold, or inside the storefront's prefilled order message — which also
holds SKUs (`LEG-SHIRT-001`), product UUIDs, prices, phone numbers and dates. Taking one of
those for a reference is the costly mistake, so the pattern is loose and the checks are strict.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from core.references import LOOK_ALIKES, canonical, plain_dashes

# Between two parts: a dash or underscore (spaces around it allowed), or a few spaces.
# NBSP and narrow NBSP included: phones and copy-paste produce them.
_SPACE = r"[ \t\u00a0\u202f]"
_SEP = rf"(?:{_SPACE}{{0,3}}[-_]{_SPACE}{{0,3}}|{_SPACE}{{1,3}})"

# Candidates only; `_read` decides. Every quantifier is bounded and nothing repeats a group,
# so each start position costs a constant: a 10 000-character message is scanned in linear time.
_CANDIDATE = re.compile(
    rf"""
    (?<![A-Za-z0-9])            # starts a word, so not the inside of `XLEG-…`
    (?<![A-Za-z0-9][-_])        # nor the middle of a dashed code: `SKU-LEG-…`, a UUID's groups
    (?:
        (?P<prefix>[A-Za-z][A-Za-z0-9]{{0,9}}) (?P<sep1>{_SEP})
        (?P<stamp>[A-Za-z0-9]{{7,11}})          (?P<sep2>{_SEP})
        (?P<tail>[A-Za-z0-9]{{4}})
      |
        (?P<joined>[A-Za-z][A-Za-z0-9]{{11,24}})   # LEG1738704998X7K2, split by _split_joined
    )
    (?![A-Za-z0-9])             # ends a word: not `…-X7K2Z`
    (?![-_][A-Za-z0-9])         # and is not the head of a longer dashed code: `…-BLUE-XL`
    """,
    re.VERBOSE,
)

# Invisible format characters (zero-width space/joiners, LRM/RLM and other bidi controls, BOM)
# that right-to-left text and some keyboards put inside words.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

_ANY_PREFIX = re.compile(r"[A-Z]{2,10}")
# Without a known prefix a run of letters and digits is only split where the stamp is decimal.
_JOINED_DECIMAL = re.compile(r"([A-Z]+)([0-9]{9,11})([A-Z0-9]{4})")


class _Found(NamedTuple):
    reference: str
    prefix_known: bool   # the prefix is one of the shop's (or any prefix, when none are given)
    spaced: bool         # written with spaces between the parts: weak evidence on its own


def find_references(text: str, prefixes: Iterable[str] | None = None) -> list[str]:
    """Canonical references in `text`, in order of appearance, each once.

    With `prefixes` (e.g. `["LEG"]`) only references with one of them count. Without, any
    prefix of 2–10 letters counts — which lets ordinary words through (`account 1234567890
    from` reads as a reference), so the bot should pass the shop's prefixes.
    """
    known = _known_prefixes(prefixes)
    return _unique(found.reference for found in _scan(text, known) if found.prefix_known)


def find_foreign_references(text: str, prefixes: Iterable[str]) -> list[str]:
    """References shaped like ours but with another prefix (`XYZ-1738704998-X7K2` when the
    shop's prefix is `LEG`), so the bot can say it is not one of the shop's.

    Stricter than `find_references`: the parts must be joined by `-`, `_` or nothing, because
    with spaces any word before a long number would look like a prefix.
    """
    known = _known_prefixes(prefixes) or frozenset()
    return _unique(found.reference for found in _scan(text, known)
                   if not found.prefix_known and not found.spaced)


def _scan(text: str, known: frozenset[str] | None) -> Iterator[_Found]:
    text = plain_dashes(_INVISIBLE.sub("", text))   # `LEG–1795969230–ORER`, as iOS writes dashes
    position = 0
    while match := _CANDIDATE.search(text, position):
        found = _read(match, known)
        if found:
            yield found
            position = match.end()
        else:
            # A rejected candidate must not hide a reference that starts inside it.
            position = match.start() + 1


def _read(match: re.Match[str], known: frozenset[str] | None) -> _Found | None:
    if match["joined"]:
        parts = _split_joined(match["joined"].upper(), known)
        spaced = False
    else:
        parts = (match["prefix"].upper(), match["stamp"].upper(), match["tail"].upper())
        spaced = not (_has_dash(match["sep1"]) and _has_dash(match["sep2"]))
    if parts is None:
        return None
    prefix, stamp, tail = parts
    shop_prefix = known is not None and prefix in known
    if shop_prefix and len(stamp) > 9 and stamp.translate(LOOK_ALIKES).isdigit():
        # `LEG-I79596923O-ORER`: too long for a base-36 stamp, so a decimal one typed with look-alikes.
        stamp = stamp.translate(LOOK_ALIKES)
    if not _plausible_stamp(stamp, shop_prefix=shop_prefix):
        return None
    if known is None:
        prefix_known = bool(_ANY_PREFIX.fullmatch(prefix))
        if not prefix_known:
            return None
    else:
        prefix_known = prefix in known
        if not prefix_known and not _ANY_PREFIX.fullmatch(prefix):
            return None
    reference = canonical(f"{prefix}-{stamp}-{tail}")
    return _Found(reference, prefix_known, spaced) if reference else None


def _split_joined(token: str, known: frozenset[str] | None) -> tuple[str, str, str] | None:
    """`LEG1738704998X7K2` -> (`LEG`, `1738704998`, `X7K2`); None when the split is a guess."""
    for prefix in sorted(known or (), key=len, reverse=True):
        if token.startswith(prefix) and len(token) > len(prefix) + 4:
            stamp, tail = token[len(prefix):-4], token[-4:]
            break
    else:
        # A base-36 stamp could start anywhere in a run of letters (`LEGMGX2…`): only a decimal
        # stamp splits without knowing the prefix.
        match = _JOINED_DECIMAL.fullmatch(token)
        if not match:
            return None
        prefix, stamp, tail = match.groups()
    if stamp.isdigit() and tail.isdigit():
        # Letters then nothing but digits is a barcode or an account number far more often
        # than a reference whose random tail happened to be all digits.
        return None
    return prefix, stamp, tail


def _plausible_stamp(stamp: str, *, shop_prefix: bool) -> bool:
    if stamp.isdigit():
        # Unix seconds; a leading zero is a local phone number (0712345678), never a time.
        return 9 <= len(stamp) <= 11 and stamp[0] != "0"
    if not 7 <= len(stamp) <= 9:
        return False
    if any(char.isdigit() for char in stamp):
        return True
    # One storefront stamp in seven has no digit (`MIDCKZQA`), so letters alone are accepted after
    # the shop's own prefix when they read as a time this storefront could have written: words
    # such as `SWEATERS` (2039) or `SHIRTS` fall outside it.
    return shop_prefix and _EARLIEST_MS <= int(stamp, 36) <= (time.time() + _FUTURE_SLACK_S) * 1000


_EARLIEST_MS = 1_577_836_800_000  # 2020-01-01
_FUTURE_SLACK_S = 366 * 24 * 3600


def _has_dash(separator: str) -> bool:
    return "-" in separator or "_" in separator


def _known_prefixes(prefixes: Iterable[str] | None) -> frozenset[str] | None:
    if prefixes is None:
        return None
    if isinstance(prefixes, str):   # find_references(text, "LEG") means ["LEG"], not L, E, G
        prefixes = [prefixes]
    return frozenset(p.strip().strip("-").upper() for p in prefixes if p.strip().strip("-"))


def _unique(references: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(references))
