#!/usr/bin/env python3
"""Load benchmark for orderdesk: `make bench` (SQLite) or `make bench BENCH_ARGS=--postgres`.

Sets up throw-away databases (temp SQLite files, or fresh `orderdesk_bench_<random>_<use>`
databases on the local PostgreSQL), migrates them, starts `orderdesk serve` processes on free
loopback ports and drives them from a separate load-driver process (scripts/bench_driver.py) with
bounded concurrency. It prints figures and asserts nothing about speed. Every server, the driver,
the fake Twilio and every database are cleaned up at the end, also on failure, SIGTERM or Ctrl-C.
Only 127.0.0.1 is ever contacted. Phases (--phases, comma-separated; default all that apply):

  orders   create N orders, confirm them, list them page by page (one server process); requests,
           errors (non-2xx or no answer), req/s and p50/p95/p99 per phase, with consistency notes
           (stock, paging).
  ceiling  a bare aiohttp hello-world process (scripts/bench_hello.py) driven by the same driver at
           the same concurrency for --ceiling-seconds; each orderdesk phase's req/s is printed
           divided by it ("ceiling ratio").
  two      with --postgres: a second `orderdesk serve` on the same database, up from the start;
           the create phase runs again with the workers split across both processes, printed
           beside the one-process create (ratio two/one). SQLite is one process per file: skipped.
  burst    signed inbound WhatsApp webhooks (scripts/bench_webhooks.py) to a server whose Twilio is
           the loopback fake of tests/fake_twilio.py: --concurrency senders for --burst-seconds;
           req/s, p50/p99 of the answers (each must be 200 with an empty TwiML <Response/>), then
           how long after the burst's end the last of the bot's replies reached the fake Twilio
           (waits at most 90 s).
  paced    the same webhooks offered open-loop at --rate messages/s for --paced-seconds; p50/p99/max
           from a message's scheduled send to its reply at the fake Twilio, and how many got none.
  scale    with --scale N: bulk-loads 1,000 orders (1-3 lines, mixed statuses, history) and 3
           messages per order straight into a database (scripts/bench_scale.py, executemany), then
           times seven reads one request at a time (~--scale-requests each after a warm-up), loads
           up to N orders and times them again: 1k and N side by side with the ratio. Then runs
           each scheduled job (reminders, expiry, digest) in this process against the N database,
           cold then warm, and prints its longest transaction, BEGIN to COMMIT (on SQLite the
           target is 5 ms of write lock at a time; printed, not asserted).
  reader   in this process, no server (scripts/bench_reader.py): CPU ms per message of the payment-text
           reader, and of every reader a customer's turn runs, on the worst 20,000-character messages
           of tests/hostile_texts.py (the webhook's cap); on the event loop, that long one message
           holds up every other request. --reader-repeat runs each, median and worst printed.
At the end: the peak RSS (VmHWM) of every server process. Every server runs with the scheduled
jobs switched off (they are measured in-process instead) and no abuse limits.

Flags: --orders, --concurrency, --postgres, --timeout (global limit), --phases, --ceiling-seconds,
--burst-seconds, --rate, --paced-seconds, --scale [N], --scale-requests, --probe-seconds, --reader-repeat.
  make bench BENCH_ARGS='--postgres --scale 100000'
  make bench BENCH_ARGS='--phases burst,paced --burst-seconds 3 --paced-seconds 5'   # while developing
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.fake_twilio, core, webhooks, bot

import bench_report  # noqa: E402  (scripts/ is on sys.path as this file's directory)

HOST = "127.0.0.1"  # the only host this script ever talks to
PG = {"host": HOST, "port": 5432, "user": "postgres", "database": "postgres"}  # maintenance connection
MAX_ORDERS = 100_000  # keeps the stock we need under the API's 1,000,000 limit
SMALL = 1_000  # the scale phase's first size
SCALE_INDEXED = 2_000  # orders loaded after the reads, which the bench indexes for search itself (SQLite)
PHASES = ("orders", "ceiling", "two", "burst", "paced", "scale", "reader")
ADMIN_PHONE = "+254700000001"  # the digest's one admin in the job timings


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        return commit + ("+dirty" if git("status", "--porcelain") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def orderdesk_cmd() -> list[str]:
    script = Path(sys.executable).parent / "orderdesk"
    return [str(script)] if script.exists() else [sys.executable, "-m", "orderdesk"]


async def pg_admin(*statements: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(**PG, timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Bench:
    """What one run starts and must clean up: a temp dir, databases, server processes."""

    def __init__(self, args) -> None:
        self.args = args
        self.deadline = time.monotonic() + args.timeout
        self.tmp = Path(tempfile.mkdtemp(prefix="orderdesk-bench-"))
        self.run_id = secrets.token_hex(5)
        self.pg_names: list[str] = []
        self.servers: dict[str, tuple[subprocess.Popen, Path]] = {}
        self.rss_mb: dict[str, float | None] = {}
        self.db = ""

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"global time limit of {self.args.timeout:.0f}s reached")
        return left

    # -- databases -----------------------------------------------------------------------------
    def database(self, use: str) -> str:
        """A fresh, migrated database for `use`; its URL."""
        if self.args.postgres:
            name = f"orderdesk_bench_{self.run_id}_{use}"
            self.pg_names.append(name)
            version = asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
            url = f"postgresql+asyncpg://{PG['user']}@{HOST}:{PG['port']}/{name}"
            self.db = f"postgresql {version}"
        else:
            url = f"sqlite+aiosqlite:///{self.tmp / (use + '.db')}"
            self.db = f"sqlite {sqlite3.sqlite_version}"
        print(f"database for {use}: {self.db}; migrating...", flush=True)
        self.cli(url, "db", "upgrade")
        return url

    def env(self, url: str, port: int | None = None, extra: dict | None = None) -> dict:
        # Servers run in the temp dir (no stray .env), console transport unless told otherwise, no
        # abuse limits, scheduled jobs off.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TWILIO_", "RATE_LIMIT_")) and k not in ("MAX_PENDING_ORDERS_PER_PHONE",
                                                                             "ADMIN_PHONES", "DATABASE_URL")}
        env.update(DATABASE_URL=url, ORDERDESK_ENV="development", PAYMENT_REMINDER_AFTER="off",
                   PENDING_EXPIRY_AFTER="off", DAILY_DIGEST_AT="off")
        if port is not None:
            env["PUBLIC_BASE_URL"] = f"http://{HOST}:{port}"
        env.update(extra or {})
        return env

    def cli(self, url: str, *argv: str) -> str:
        done = subprocess.run([*orderdesk_cmd(), *argv], env=self.env(url), cwd=self.tmp, capture_output=True,
                              text=True, timeout=min(120, self.remaining()))
        if done.returncode != 0:
            raise RuntimeError(f"orderdesk {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return done.stdout

    def admin_token(self, url: str) -> str:
        return self.cli(url, "token", "create", "--role", "admin", "--name", "bench").strip().splitlines()[-1]

    # -- processes -----------------------------------------------------------------------------
    def start(self, name: str, argv: list[str], env: dict, ready_path: str, port: int) -> str:
        log_path = self.tmp / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(argv, env=env, cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # Ctrl-C reaches us, not it: we stop it
        self.servers[name] = (process, log_path)
        base_url = f"http://{HOST}:{port}"
        ready_by = time.monotonic() + min(30, self.remaining())
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} before answering {ready_path}")
            try:
                with urllib.request.urlopen(base_url + ready_path, timeout=2) as resp:
                    if resp.status == 200:
                        return base_url
            except OSError:
                pass
            if time.monotonic() > ready_by:
                raise TimeoutError(f"{name} did not answer {ready_path} within 30s")
            time.sleep(0.1)

    def serve(self, name: str, url: str, extra_env: dict | None = None) -> str:
        port = free_port()
        base_url = self.start(name, [*orderdesk_cmd(), "serve", "--host", HOST, "--port", str(port)],
                              self.env(url, port, extra_env), "/health", port)
        print(f"{name}: orderdesk serve on {base_url}", flush=True)
        return base_url

    def hello(self) -> str:
        port = free_port()
        return self.start("ceiling", [sys.executable, str(ROOT / "scripts" / "bench_hello.py"), "--port", str(port)],
                          dict(os.environ), "/hello", port)

    def stop(self, name: str) -> bool:
        """Stop a process we started (by its pid), keeping its peak RSS first. False if it had exited."""
        process, _ = self.servers[name]
        if process.poll() is not None:
            self.rss_mb.setdefault(name, None)
            return False
        self.rss_mb[name] = peak_rss_mb(process.pid)
        process.send_signal(signal.SIGTERM)  # aiohttp shuts down gracefully on SIGTERM
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return True

    def retire(self, name: str) -> None:
        """Stop a server whose phases are done; an error if it died during them."""
        if not self.stop(name):
            raise RuntimeError(f"{name} exited with {self.servers[name][0].returncode} during the run")

    def driver(self, cfg: dict) -> dict:
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_driver.py")], input=json.dumps(cfg),
                              cwd=self.tmp, stdout=subprocess.PIPE, text=True, timeout=self.remaining())
        if done.returncode != 0:
            raise RuntimeError(f"the load driver failed with exit code {done.returncode}")
        return json.loads(done.stdout)

    def log_problems(self, limit: int = 6) -> list[str]:
        """Per server, its ERROR lines and the exceptions that ended its tracebacks, counted."""
        found = []
        for name, (_, log_path) in self.servers.items():
            lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
            seen: Counter = Counter()
            in_traceback = False
            for line in lines:
                if line.startswith("Traceback"):
                    in_traceback = True
                elif in_traceback and line and not line[0].isspace():
                    in_traceback = False  # the exception that ended it: "Type: message"
                    seen[line[:300]] += 1
                elif " ERROR " in line:
                    seen[line.split(" ", 2)[-1][:300]] += 1  # without its date and time, to count alike
            found += [f"{name}: x{times} {line}" for line, times in seen.most_common(limit)]
        return found

    def close(self, ok: bool) -> None:
        for name in list(self.servers):
            try:
                self.stop(name)
            except Exception as exc:  # keep cleaning up the rest
                print(f"could not stop {name}: {exc}", file=sys.stderr)
        if not ok:
            for name, (_, log_path) in self.servers.items():
                tail = log_path.read_text(errors="replace").splitlines()[-30:] if log_path.exists() else []
                if tail:
                    print(f"--- {name} log (last lines) ---", *tail, sep="\n", file=sys.stderr)
        for name in self.pg_names:
            try:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as exc:
                print(f"could not drop database {name}: {exc}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- the phases ---------------------------------------------------------------------------------

def run_orders(bench: Bench, phases: set[str], out: dict) -> None:
    """orders, ceiling and two: one driver run against the servers they need, all up at once."""
    args = bench.args
    cfg = {"task": "orders", "orders": args.orders, "concurrency": args.concurrency, "run": bench.run_id,
           "ceiling_seconds": args.ceiling_seconds, "phases": []}
    if phases & {"orders", "two"}:
        url = bench.database("orders")
        cfg["token"] = bench.admin_token(url)
        cfg["base_url"] = bench.serve("main", url)
        if "orders" in phases:
            cfg["phases"].append("create")
        if "two" in phases:
            cfg["second_url"] = bench.serve("second", url)
            cfg["phases"].append("create2")
    if "ceiling" in phases:
        cfg["hello_url"] = bench.hello()
        cfg["phases"].append("ceiling")
    shown = {"create": "create, confirm, list", "create2": "create on two processes", "ceiling": "ceiling"}
    print(f"driving at concurrency {args.concurrency}: {'; '.join(shown[p] for p in cfg['phases'])}...", flush=True)
    cfg["seconds"] = max(5.0, bench.remaining() - 15)
    out.update(bench.driver(cfg))
    for name in ("main", "second", "ceiling"):
        if name in bench.servers:
            bench.retire(name)


def run_webhooks(bench: Bench, phases: set[str], out: dict) -> None:
    import bench_webhooks

    args = bench.args
    url = bench.database("webhooks")
    cfg = {"phases": phases, "concurrency": args.concurrency, "burst_seconds": args.burst_seconds,
           "rate": args.rate, "paced_seconds": args.paced_seconds}
    planned = [f"burst {args.burst_seconds:g} s" if "burst" in phases else "",
               f"paced {args.rate:g}/s for {args.paced_seconds:g} s" if "paced" in phases else ""]
    print(f"webhooks: {', '.join(filter(None, planned))}...", flush=True)
    was_up = []

    def stop() -> None:  # called before the fake Twilio closes, also on failure or Ctrl-C
        if "webhooks" in bench.servers:
            was_up.append(bench.stop("webhooks"))

    out["webhooks"] = asyncio.run(bench_webhooks.run(lambda env: bench.serve("webhooks", url, env), stop, cfg))
    if was_up != [True]:
        raise RuntimeError(f"webhooks exited with {bench.servers['webhooks'][0].returncode} during the run")


def scale_probes(found: dict) -> list:
    orders = "/api/orders/"
    return [
        (f"GET {orders}?limit=20", [f"{orders}?limit=20"], True),
        (f"GET {orders}?status=pending&limit=20", [f"{orders}?status=pending&limit=20"], True),
        (f"GET {orders}?search={found['phone']} (phone)", [f"{orders}?search={found['phone']}"], True),
        (f"GET {orders}?search={found['name']} (name)", [f"{orders}?search={found['name']}"], True),
        (f"GET {orders}?search={found['reference']} (ref)", [f"{orders}?search={found['reference']}"], True),
        (f"GET {orders}<reference>/", [f"{orders}{ref}/" for ref in found["references"]], True),
        ("GET /metrics", ["/metrics"], True),
    ]


def run_scale(bench: Bench, out: dict) -> None:
    import bench_scale

    args = bench.args
    url = bench.database("scale")
    token = bench.admin_token(url)
    sizes = [SMALL, args.scale] if args.scale > SMALL else [args.scale]
    loaded, base_url, timings, loads = 0, None, {}, []
    for size in sizes:
        print(f"scale: loading orders {loaded}..{size - 1} with executemany...", flush=True)
        loads.append(asyncio.run(bench_scale.bulk_load(url, loaded, size - loaded)))
        if loaded == 0:
            found = asyncio.run(bench_scale.probes(url))
            base_url = bench.serve("scale", url)
        loaded = size
        print(f"scale: timing {len(scale_probes(found))} reads at {size} orders, one at a time...", flush=True)
        timings[size] = bench.driver({"task": "scale", "base_url": base_url, "token": token,
                                      "probes": scale_probes(found), "requests": args.scale_requests,
                                      "probe_seconds": args.probe_seconds})["probes"]
    bench.retire("scale")  # the jobs below are the only writer
    # The server indexed the orders loaded while it ran (SQLite); these ones this process indexes alone.
    print(f"scale: loading {SCALE_INDEXED} more orders and indexing them for search...", flush=True)
    loads.append(asyncio.run(bench_scale.bulk_load(url, loaded, SCALE_INDEXED)))
    print(f"scale: running each scheduled job, cold then warm, at {loaded + SCALE_INDEXED} orders...", flush=True)
    jobs = asyncio.run(bench_scale.time_jobs(url, ADMIN_PHONE))
    out["scale"] = {"sizes": sizes, "timings": timings, "loads": loads, "jobs": jobs, "probes": found}


def run_reader(bench: Bench, out: dict) -> None:
    import bench_reader

    print(f"reader: the payment-text reader on {len(bench_reader.HOSTILE)} messages of 20,000 characters, "
          f"{bench.args.reader_repeat} runs each...", flush=True)
    out["reader"] = bench_reader.run(bench.args.reader_repeat)


# --- main ---------------------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500, help="orders to create, confirm and list (default 500)")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight at once (default 20)")
    parser.add_argument("--postgres", action="store_true", help=f"use fresh databases on {HOST}:5432")
    parser.add_argument("--timeout", type=float, default=600, help="global time limit in seconds (default 600)")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated subset of {','.join(PHASES)} (default all that apply)")
    parser.add_argument("--ceiling-seconds", type=float, default=5, help="hello-world phase length (default 5)")
    parser.add_argument("--burst-seconds", type=float, default=10, help="webhook burst length (default 10)")
    parser.add_argument("--rate", type=float, default=200, help="paced webhooks offered per second (default 200)")
    parser.add_argument("--paced-seconds", type=float, default=30, help="paced webhook phase length (default 30)")
    parser.add_argument("--scale", type=int, nargs="?", const=100_000, default=None, metavar="N",
                        help="bulk-load N orders (100000 if no N) and time reads at 1k and N, and the jobs")
    parser.add_argument("--scale-requests", type=int, default=200, help="timed requests per scale read (default 200)")
    parser.add_argument("--probe-seconds", type=float, default=20,
                        help="at most this long per scale read and size (default 20)")
    parser.add_argument("--reader-repeat", type=int, default=5, help="runs per message in the reader phase (default 5)")
    args = parser.parse_args()
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if phases - set(PHASES):
        parser.error(f"--phases: unknown {', '.join(sorted(phases - set(PHASES)))}; choose from {', '.join(PHASES)}")
    explicit = args.phases != parser.get_default("phases")
    if "scale" in phases and args.scale is None:
        if explicit:
            parser.error("--phases scale needs --scale [N]")
        phases.discard("scale")
    if "two" in phases and not args.postgres:
        if explicit:
            parser.error("--phases two needs --postgres (SQLite is one server process per file)")
        phases.discard("two")
    checks = [(1 <= args.orders <= MAX_ORDERS, f"--orders 1..{MAX_ORDERS}"),
              (1 <= args.concurrency <= 1000, "--concurrency 1..1000"),
              (10 <= args.timeout <= 3600, "--timeout 10..3600"),
              (0.5 <= args.ceiling_seconds <= 60, "--ceiling-seconds 0.5..60"),
              (0.5 <= args.burst_seconds <= 60, "--burst-seconds 0.5..60"),
              (1 <= args.rate <= 2000, "--rate 1..2000"),
              (0.5 <= args.paced_seconds <= 120, "--paced-seconds 0.5..120"),
              (args.scale is None or 100 <= args.scale <= 1_000_000, "--scale 100..1000000"),
              (1 <= args.scale_requests <= 10_000, "--scale-requests 1..10000"),
              (1 <= args.probe_seconds <= 300, "--probe-seconds 1..300"),
              (1 <= args.reader_repeat <= 1000, "--reader-repeat 1..1000")]
    for fine, rule in checks:
        if not fine:
            parser.error(rule)
    args.phase_set = phases
    return args


def main() -> int:
    args = parse_args()
    phases = args.phase_set

    def on_sigterm(*_) -> None:
        print("bench stopped by SIGTERM; cleaning up", file=sys.stderr)
        sys.exit(143)  # raises SystemExit here, so the `finally` below stops the servers and drops the databases

    signal.signal(signal.SIGTERM, on_sigterm)
    bench, ok, out = Bench(args), False, {}
    try:
        if phases & {"orders", "ceiling", "two"}:
            run_orders(bench, phases, out)
        if phases & {"burst", "paced"}:
            run_webhooks(bench, phases, out)
        if "scale" in phases:
            run_scale(bench, out)
        if "reader" in phases:
            run_reader(bench, out)
        for name in list(bench.servers):
            bench.stop(name)
        bench_report.print_all(args, {"commit": git_commit(), "db": bench.db, "phases": sorted(phases)},
                               out, bench.rss_mb, bench.log_problems())
        ok = True
        return 0
    except KeyboardInterrupt:
        print("bench interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"bench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        bench.close(ok)


if __name__ == "__main__":
    sys.exit(main())
