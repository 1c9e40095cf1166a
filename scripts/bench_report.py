"""What `make bench` prints: the order phases' table as it always was, then one summary table of
everything measured (a row per figure) and a line per note. Figures only; nothing is asserted."""
from __future__ import annotations

import math
import platform

TIME_BOUND = 10_000_000  # a phase planned this long (bench_driver.BIG) is bounded by time, not count
LOCK_TARGET_MS = 5  # SQLite: no write transaction should hold the lock longer (printed, not asserted)


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def rate(ph: dict) -> float:
    return ph["requests"] / ph["seconds"] if ph["seconds"] > 0 else 0.0


def ratio(a: float | None, b: float | None) -> float:
    return a / b if a and b else float("nan")


def short(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def print_orders(args, meta: dict, phases: dict, notes: list[str]) -> None:
    """The create / confirm / list report, as bench.py has always printed it."""
    print()
    print(f"orderdesk bench  commit {meta['commit']}  database {meta['db']}  python {platform.python_version()}")
    print(f"orders {args.orders}  concurrency {args.concurrency}  products 5  "
          f"list page size 20  driver: separate process, aiohttp")
    header = f"{'phase':<8} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    for name in ("create", "confirm", "list"):
        ph = phases[name]
        lat = sorted(ph["latencies_ms"])
        print(f"{name:<8} {ph['requests']:>9} {ph['errors']:>7} {rate(ph):>9.1f} {percentile(lat, 50):>9.1f} "
              f"{percentile(lat, 95):>9.1f} {percentile(lat, 99):>9.1f}")
    for name in ("create", "confirm", "list"):
        ph = phases[name]
        if ph["requests"] < ph["planned"]:
            print(f"note: {name} stopped at the time limit after {ph['requests']} of {ph['planned']} requests")
        for sample, times in ph["error_samples"]:
            print(f"error: {name} x{times}: {sample}")
    for note in notes:
        print(f"note: {note}")


class Table:
    COLUMNS = f"{'measured':<52} {'n':>7} {'err':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  other"

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.notes: list[str] = []

    def add(self, what: str, n="", err="", per_s=None, p50=None, p99=None, most=None, other: str = "") -> None:
        def num(value, width: int = 8) -> str:
            return f"{'':>{width}}" if value is None else f"{value:>{width}.1f}"
        row = f"{what:<52} {n!s:>7} {err!s:>5} {num(per_s)} {num(p50)} {num(p99)} {num(most)}  {other}"
        self.rows.append(row.rstrip())

    def phase(self, what: str, ph: dict, other: str = "", per_s: float | None = None) -> None:
        lat = sorted(ph["latencies_ms"])
        self.add(what, ph["requests"], ph["errors"], rate(ph) if per_s is None else per_s, percentile(lat, 50),
                 percentile(lat, 99), lat[-1] if lat else None, other)
        for sample, times in ph.get("error_samples", []):
            self.notes.append(f"error: {what.strip()} x{times}: {sample}")
        if ph["requests"] < ph["planned"] < TIME_BOUND:
            self.notes.append(f"{what.strip()}: stopped at its time limit after {ph['requests']} of "
                              f"{ph['planned']} requests")

    def print(self, title: str) -> None:
        print()
        print(title)
        print(self.COLUMNS)
        print("-" * (len(self.COLUMNS) + 30))
        for row in self.rows:
            print(row)
        for note in self.notes:
            print(f"note: {note}")


def print_all(args, meta: dict, out: dict, rss_mb: dict, log_problems: list[str]) -> None:
    phases = out.get("phases", {})
    if "create" in phases:
        print_orders(args, meta, phases, [n for n in out.get("notes", []) if not n.startswith("create2:")])
    t = Table()
    ceiling = rate(phases["ceiling"]) if "ceiling" in phases else None

    def vs_ceiling(per_s: float) -> str:
        return f"ceiling ratio {per_s / ceiling:.4f}" if ceiling else ""

    for name, label in (("create", "create (1 process)"), ("confirm", "confirm"), ("list", "list page of 20")):
        if name in phases:
            t.phase(label, phases[name], vs_ceiling(rate(phases[name])))
    if "create2" in phases:
        two = rate(phases["create2"])
        one = rate(phases["create"]) if "create" in phases else None
        t.phase("create, workers split over 2 processes", phases["create2"],
                "; ".join(filter(None, [f"two/one {ratio(two, one):.2f}" if one else "", vs_ceiling(two)])))
        t.notes += [n for n in out.get("notes", []) if n.startswith("create2:")]
    if ceiling:
        t.phase("ceiling: bare aiohttp GET /hello", phases["ceiling"], "same driver, same concurrency")
        t.notes.append("ceiling ratio = orderdesk req/s / the bare aiohttp hello-world's req/s, same driver, "
                       "concurrency and run")
    hooks = out.get("webhooks", {})
    if "burst" in hooks:
        b = hooks["burst"]
        after = "" if b["last_reply_after_s"] is None else f", last +{b['last_reply_after_s']:.2f} s after the burst"
        t.phase(f"webhook burst {args.burst_seconds:g} s, C={args.concurrency}", b,
                "; ".join(filter(None, [f"replies {b['replied']}/{b['expected']}{after}", vs_ceiling(rate(b))])))
        if not b["complete"]:
            t.notes.append(f"webhook burst: {b['expected'] - b['replied']} answered messages had no reply "
                           f"{b['waited_s']:.0f} s after the burst")
    if "paced" in hooks:
        p = hooks["paced"]
        label = f"webhook paced {args.rate:g}/s x {args.paced_seconds:g} s"
        t.phase(f"{label}: answers", p, f"offered {p['planned']}, peak in flight {p['peak_in_flight']}",
                per_s=p["planned"] / p["seconds"] if p["seconds"] > 0 else None)
        lat = sorted(p["reply_ms"])
        t.add("webhook paced: sent -> reply at fake Twilio", len(lat), p["dropped"], None, percentile(lat, 50),
              percentile(lat, 99), lat[-1] if lat else None, f"dropped {p['dropped']} of {p['planned']}")
        t.notes.append(f"paced: latency from each message's scheduled send time to its reply reaching the fake "
                       f"Twilio; no reply within 90 s of the last send = dropped (the err column); "
                       f"the sender fell behind its schedule by at most {p['max_lag_ms']:.1f} ms")
    if hooks.get("extra_replies") or hooks.get("refused_sends"):
        t.notes.append(f"webhooks: {hooks['extra_replies']} replies beyond the first per message, "
                       f"{hooks['refused_sends']} sends the fake Twilio refused")
    if "scale" in out:
        add_scale(t, out["scale"], meta["db"])
    if "reader" in out:
        add_reader(t, out["reader"])
    for name, mb in rss_mb.items():
        t.add(f"peak RSS (VmHWM): {name}", other="gone before it was read" if mb is None else f"{mb:.0f} MB")
    t.notes += [f"server log: {line}" for line in log_problems]
    t.print(f"summary  commit {meta['commit']}  database {meta['db']}  python {platform.python_version()}  "
            f"concurrency {args.concurrency}  phases {','.join(meta['phases'])}")


def add_reader(t: Table, rows: list[dict]) -> None:
    for row in rows:
        t.add(f"reader: {row['name']}", row["chars"], "", None, row["payment_ms"][0], None, row["payment_ms"][1],
              f"{row['reads']} reads; every reader of a turn {row['every_ms'][0]:.1f} ms")
    worst = max(rows, key=lambda row: row["payment_ms"][0])
    t.notes.append(f"reader: CPU ms per 20,000-character message, in-process (n = characters, p50 = median, max = "
                   f"worst run); the worst for the payment reader is \"{worst['name']}\" at "
                   f"{worst['payment_ms'][0]:.1f} ms")


def add_scale(t: Table, scale: dict, db: str) -> None:
    sizes, timings = scale["sizes"], scale["timings"]
    for label in timings[sizes[0]]:
        medians = []
        for size in sizes:
            ph = timings[size][label]
            lat = sorted(ph["latencies_ms"])
            medians.append((percentile(lat, 50), percentile(lat, 99)))
            other = ""
            if len(medians) == 2:
                other = (f"{short(sizes[1])}/{short(sizes[0])}: p50 x{ratio(medians[1][0], medians[0][0]):.1f}, "
                         f"p99 x{ratio(medians[1][1], medians[0][1]):.1f}")
            t.phase(f"{short(size):>4} {label}", ph, other)
    loaded = sum(load["orders"] for load in scale["loads"])
    rows = sum(load["rows"] for load in scale["loads"])
    seconds = sum(load["seconds"] for load in scale["loads"])
    t.notes.append(f"scale: {loaded} orders loaded with executemany ({rows} rows with lines, history, customers and "
                   f"3 messages per order) in {seconds:.1f} s; one request at a time after 10 warm-up requests"
                   + ("; ANALYZE run after loading" if db.startswith("postgres")
                      else "; no ANALYZE (the server never runs it)"))
    over = []
    indexing = scale["loads"][-1].get("search_index")
    postgres = db.startswith("postgres")
    if indexing and indexing["transactions"]:  # the orders loaded go into the search index (SQLite: in chunks)
        done = ("the trigram index's pending list folded in" if postgres
                else f"{indexing['indexed']} new orders indexed in")
        t.add(f"job search index at {short(sizes[-1])} orders: longest tx", indexing["transactions"], "", None, None,
              None, indexing["longest_ms"], f"{done} {indexing['seconds'] * 1000:.0f} ms")
        if not postgres and not indexing["longest_ms"] <= LOCK_TARGET_MS:  # PostgreSQL takes no database-wide lock
            over.append(f"search index {indexing['longest_ms']:.1f} ms")
    for job in scale["jobs"]:
        cold, warm = job["runs"]
        longest = max(cold["longest_ms"], warm["longest_ms"])
        t.add(f"job {job['job']} at {short(sizes[-1])} orders: longest tx", cold["transactions"] + warm["transactions"],
              "", None, None, None, longest,
              f"cold {cold['longest_ms']:.1f} ms, warm {warm['longest_ms']:.1f} ms (whole runs {cold['run_ms']:.0f}"
              f"/{warm['run_ms']:.0f} ms); {cold['result']}")
        if db.startswith("sqlite") and not longest <= LOCK_TARGET_MS:
            over.append(f"{job['job']} {longest:.1f} ms")
    t.notes.append("jobs: each run in-process through webhooks/scheduler.run, cold (first statements compiled) "
                   "then warm (clock a day on: the next batch, a new digest day); longest tx = a write transaction's "
                   "BEGIN (the write lock, on SQLite) to COMMIT, from the engine's begin/commit/rollback events "
                   "(read-only ones hold no lock and are not counted); n = write transactions")
    if db.startswith("sqlite"):
        t.notes.append(f"jobs: SQLite target: no write transaction holds the lock longer than {LOCK_TARGET_MS} ms"
                       f" (not asserted); over it: {', '.join(over) or 'none'}")
