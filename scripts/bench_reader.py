"""`make bench`'s reader phase: what the readers of customers' text cost on the worst messages.

Runs in this process, no server: each message of tests/hostile_texts.py (20,000 characters, the
webhook's cap) is read `repeat` times by the payment-text reader alone, and by every reader a
customer's turn runs on a message (references, the prefilled-order check, payment phrases, payment
texts). CPU time (`time.process_time`) per message, median and worst of the runs: on the event
loop this is how long one such message holds up every other request. Printed, never asserted.

    python scripts/bench_reader.py [repeat]    # alone, while developing
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.payment_texts import read_payment_text  # noqa: E402
from bot.payments import is_payment_text, is_prefilled_order_message  # noqa: E402
from bot.references import find_foreign_references, find_references  # noqa: E402
from tests.hostile_texts import HOSTILE  # noqa: E402

PREFIXES = ["LEG"]


def payment_reader(text: str) -> None:
    read_payment_text(text, "KES")


def every_reader(text: str) -> None:
    """What bot/conversation.py's customer_turn reads from one message's text."""
    find_references(text, PREFIXES)
    is_prefilled_order_message(text)
    read_payment_text(text, "KES")
    is_payment_text(text)
    find_foreign_references(text, PREFIXES)


def cpu_ms(read, text: str, repeat: int) -> list[float]:
    read(text)  # warm: compiled patterns, caches
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        read(text)
        runs.append((time.process_time() - start) * 1000)
    return runs


def run(repeat: int = 5) -> list[dict]:
    """One row per message: its name, length, and the readers' CPU ms (median, worst)."""
    rows = []
    for name, text in HOSTILE.items():
        payment, every = cpu_ms(payment_reader, text, repeat), cpu_ms(every_reader, text, repeat)
        rows.append({"name": name, "chars": len(text), "reads": len(read_payment_text(text, "KES")),
                     "payment_ms": (statistics.median(payment), max(payment)),
                     "every_ms": (statistics.median(every), max(every))})
    return rows


if __name__ == "__main__":
    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
        print(f"{row['name']:<42} {row['chars']:>6} chars  {row['reads']:>4} reads  payment reader "
              f"{row['payment_ms'][0]:7.1f} ms (worst {row['payment_ms'][1]:7.1f})  every reader "
              f"{row['every_ms'][0]:7.1f} ms (worst {row['every_ms'][1]:7.1f})")
