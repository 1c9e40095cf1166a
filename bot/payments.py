"""Spot payment reports: a receipt file, or a customer saying they paid.

Two things must not count: the storefront's prefilled order message (it says "Process payment"
and carries the reference, but the customer has not paid yet), and sentences that contain a
payment phrase but deny or postpone it ("I haven't sent the money yet", "once I have paid").

Reading forwarded mobile-money confirmations (M-PESA, Airtel Money, MTN MoMo: transaction code
and amount) belongs in this module too, as a table of parsers beside the phrases below.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from bot.references import find_references

# Phrases that report a payment, matched as whole words in any case; apostrophes are ignored,
# so "I've paid", "Ive paid" and "I’ve paid" are one phrase. A shop adds its own through
# `is_payment_text(text, extra_phrases=...)`.
PAYMENT_PHRASES: tuple[str, ...] = (
    # English
    "I have paid", "I've paid", "I paid", "I just paid", "just paid", "paid already",
    "already paid", "I have made the payment", "I've made the payment", "I made the payment",
    "made the payment", "payment made", "payment sent", "payment done", "payment is done",
    "payment completed", "payment has been made", "payment has been sent", "done paying",
    "sent the money", "sent you the money", "sent the payment", "sent the cash", "money sent",
    "I have sent the money", "I've sent the money", "transfer done", "transfer made",
    "have transferred", "I transferred", "transferred the money",
    # Swahili and Sheng ("nimelipa": I have paid, "nimetuma": I have sent)
    "nimelipa", "nimeshalipa", "nimelipia", "nimetuma", "nimeshatuma", "nimekutumia",
    "nimepay", "nimeshapay", "nimesend pesa", "pesa imetumwa", "malipo yametumwa",
)

# A whole message of just one of these is a report too ("Paid ✅"); inside a sentence "paid"
# is too loose ("is delivery paid separately?").
PAYMENT_WORDS_ALONE: tuple[str, ...] = ("paid", "imelipwa", "lipwa")

# A phrase preceded (within three words) by one of these is denied or not yet true.
_NEGATORS = frozenset({
    "not", "never", "havent", "hasnt", "hadnt", "didnt", "dont", "doesnt", "cant", "cannot",
    "couldnt", "wont", "wouldnt", "isnt", "wasnt", "arent", "werent", "without",
    "if", "once", "after", "before", "until", "unless", "when", "whenever", "whether", "soon",
    "bado", "kama", "nikishalipa", "hapana",  # Swahili: not yet, if, once I've paid, no
})
_NEGATION_WINDOW = 3
# "no" denies only what follows it directly ("no payment sent"), not a whole sentence
# ("no problem I paid").
_ADJACENT_NEGATORS = frozenset({"no", "hakuna"})
# A question opening with one of these asks how or whether to pay ("should I say payment
# done?", "is the money sent?"); "did you get the money I sent?" is still a report.
_QUESTION_OPENERS = frozenset({
    "how", "where", "when", "what", "which", "should", "shall", "can", "could", "may", "do",
    "does", "will", "would", "must", "is", "are", "je",
})

# Clauses end at sentence punctuation (Latin and Arabic), line breaks, and "but".
_CLAUSE_END = re.compile(r"[.!?;,\n\u061f\u060c\u2026]+|\bbut\b", re.IGNORECASE)
_APOSTROPHES = re.compile("['\u2019\u2018\u02bc`\u00b4]")
_NOT_A_WORD = re.compile(r"[\W_]+")

# The storefront's prefilled order message: a reference plus at least two of these marks.
# One mark is not enough: "please process payment for LEG-…, I have paid" is a report.
_PREFILL_MARKS = tuple(re.compile(mark, re.IGNORECASE) for mark in (
    r"[\u2500-\u257f]{3}",                      # a ━━━, ───, ═══ rule (box drawing)
    r"\bprocess\s+payment\b",
    r"\bnew\s+order\b",
    r"\border\s+ref(?:erence)?\b\W{0,3}:",      # "*Order Ref:*", "Order reference:"
    r"\btotal\b\W{0,3}:\W{0,3}[A-Z]{0,3}\W{0,2}\d",   # "*Total:* KES 3,000.00"
    r"\bi\s+have\s+placed\s+(?:an\s+)?order\b",  # orderdesk's own prefill (bot/replies.py)
    r"\bwould\s+like\s+to\s+pay\b",
))
_PREFILL_MIN_MARKS = 2


def is_payment_text(text: str, extra_phrases: Iterable[str] = (), *, prefilled: bool | None = None) -> bool:
    """Whether the customer says they paid: "I have paid 🙏", "payment sent", "Nimelipa".

    Not for denials, promises and questions ("I haven't paid yet", "I will pay", "how do I
    pay?"), "unpaid", or the storefront's prefilled order message (`prefilled`, when the caller
    has already told, is not looked for again).
    """
    if not text or (is_prefilled_order_message(text) if prefilled is None else prefilled):
        return False
    if " ".join(_words(text)) in _phrases(PAYMENT_WORDS_ALONE):
        return True
    if isinstance(extra_phrases, str):   # extra_phrases="nimeweka doh" is one phrase, not letters
        extra_phrases = (extra_phrases,)
    phrases = _phrases(PAYMENT_PHRASES + tuple(extra_phrases))
    return any(_reports(clause, question, phrases) for clause, question in _clauses(text))


def is_receipt_media(content_type: str) -> bool:
    """A photo or a PDF, which is how customers send receipts: `image/jpeg`, `application/pdf`.
    WhatsApp stickers arrive as `image/webp`; they are chat, not receipts."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return (media_type.startswith("image/") and media_type != "image/webp") or media_type == "application/pdf"


def is_prefilled_order_message(text: str, prefixes: Iterable[str] | None = None, *,
                               references: list[str] | None = None) -> bool:
    """Whether `text` is the storefront's prefilled order message: it links an order, it never
    reports a payment, even though it ends with "Process payment". `references`: those already
    found in `text`, so it is not scanned for them again."""
    if not text or not (find_references(text, prefixes) if references is None else references):
        return False
    return sum(1 for mark in _PREFILL_MARKS if mark.search(text)) >= _PREFILL_MIN_MARKS


def _reports(clause: list[str], question: bool, phrases: frozenset[str]) -> bool:
    if question and clause and clause[0] in _QUESTION_OPENERS:
        return False
    longest, firsts = _longest(phrases), _first_words(phrases)
    for start in range(len(clause)):
        if clause[start] not in firsts:
            continue   # most words start no phrase: the clause is read in one pass
        for length in range(1, min(longest, len(clause) - start) + 1):
            if " ".join(clause[start:start + length]) not in phrases:
                continue
            before = clause[max(0, start - _NEGATION_WINDOW):start]
            after = clause[start + length:start + length + 1]
            denied = (any(word in _NEGATORS for word in before)
                      or (start > 0 and clause[start - 1] in _ADJACENT_NEGATORS)
                      or after == ["yet"])
            if not denied:
                return True
    return False


def _clauses(text: str) -> list[tuple[list[str], bool]]:
    """Each clause's words, and whether it ended with a question mark."""
    clauses, start = [], 0
    for end in _CLAUSE_END.finditer(text + "\n"):
        words = _words(text[start:end.start()])
        if words:
            clauses.append((words, "?" in end.group() or "\u061f" in end.group()))
        start = end.end()
    return clauses


def _words(text: str) -> list[str]:
    """Lower-case words, apostrophes dropped and punctuation, emoji and markup gone."""
    return _NOT_A_WORD.sub(" ", _APOSTROPHES.sub("", text.casefold())).split()


@lru_cache(maxsize=32)
def _phrases(phrases: tuple[str, ...]) -> frozenset[str]:
    return frozenset(" ".join(_words(phrase)) for phrase in phrases) - {""}


@lru_cache(maxsize=32)
def _first_words(phrases: frozenset[str]) -> frozenset[str]:
    return frozenset(phrase.split(" ", 1)[0] for phrase in phrases)


@lru_cache(maxsize=32)
def _longest(phrases: frozenset[str]) -> int:
    return max((phrase.count(" ") + 1 for phrase in phrases), default=0)
