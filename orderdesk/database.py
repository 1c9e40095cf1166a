"""The shop's database as the commands meet it (CONTRACT §1): whether it can be used (it exists,
answers and is not behind the code), the one server of a SQLite file, its revision, its backup.
Every answer for a person is one line."""
from __future__ import annotations

import asyncio
import logging
import os
import sys

from core.settings import Settings

log = logging.getLogger("orderdesk")


def root_cause(exc: BaseException) -> BaseException:
    """The first exception of a driver's chain (the OSError under SQLAlchemy's wrapping, say)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def in_one_line(exc: BaseException) -> str:
    root = root_cause(exc)
    return f"{type(root).__name__}: {str(root).splitlines()[0] if str(root) else 'no answer'}"


# How long `serve` waits for a database that does not answer yet (a platform starting both at once).
WAIT_S = 30


async def problem(settings: Settings, *, wait_s: float = 0) -> str | None:
    """Why the commands that use the shop's database cannot, in one line, or None: no SQLite file
    (connecting would create an empty one), no answer (tried for up to `wait_s` seconds, with
    backoff), or a schema behind the code."""
    from sqlalchemy.engine import make_url

    from core.db import make_engine
    from core.migrate import missing_sqlite_file, schema_behind

    upgrade = "run `orderdesk db upgrade`"
    path = missing_sqlite_file(settings.database_url)
    if path is not None:
        return f"no database at {path}: {upgrade} first (or set DATABASE_URL to the shop's database)"
    loop = asyncio.get_running_loop()
    deadline, pause = loop.time() + wait_s, 0.5
    while True:
        engine = make_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                behind = await schema_behind(conn)
            return f"{behind}: {upgrade}" if behind else None
        except Exception as exc:  # whatever the driver raises, the answer is one line
            if not isinstance(root_cause(exc), OSError) or loop.time() + pause > deadline:
                where = make_url(settings.database_url).render_as_string(hide_password=True)
                return f"cannot use the database at {where} ({in_one_line(exc)}): check DATABASE_URL"
        finally:
            await engine.dispose()
        log.warning("the database does not answer yet; trying again in %.1f s", pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 8)


_held_locks: list = []  # open for the life of the process: the operating system drops them at exit


def sole_server(settings: Settings) -> str | None:
    """Hold the lock that makes this the only server of its SQLite file (SQLite is one process per
    file here), or say which process holds it. A lock of a process that died is gone with it."""
    import fcntl
    from pathlib import Path

    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    path = Path(url.database).resolve()
    lock = open(path.with_name(path.name + ".serve.lock"), "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        return (f"another orderdesk serve (pid {holder}) already serves {path}: SQLite is one process per "
                "file; stop that one first (or use PostgreSQL for several processes)")
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    _held_locks.append(lock)
    return None


async def revision(settings: Settings) -> str | None:
    from core.db import make_engine
    from core.migrate import current_revision

    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await current_revision(conn)
    finally:
        await engine.dispose()


def backup(settings: Settings, path: str) -> int:
    """SQLite's online backup (consistent while the server writes), refused for a source that is
    missing or holds no shop, and for a target that cannot be written; prints the rows it kept."""
    import sqlite3
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from core.migrate import missing_sqlite_file

    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite"):
        print("db backup is for SQLite; for PostgreSQL use pg_dump", file=sys.stderr)
        return 2
    missing = missing_sqlite_file(settings.database_url)
    if missing:
        print(f"no database at {missing} to back up: check DATABASE_URL (or the directory you run this in)",
              file=sys.stderr)
        return 2
    target_path = Path(path).resolve()
    if not target_path.parent.is_dir():
        print(f"no directory {target_path.parent} to write the backup into: create it first", file=sys.stderr)
        return 2
    source = sqlite3.connect(f"file:{Path(url.database).resolve()}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'orders_search%' ORDER BY name")]
        if "alembic_version" not in tables:
            print(f"{url.database} holds no orderdesk database (no tables); nothing backed up", file=sys.stderr)
            return 2
        try:
            target = sqlite3.connect(target_path)
        except sqlite3.Error as exc:
            print(f"cannot write {target_path}: {exc}", file=sys.stderr)
            return 2
        with target:
            source.backup(target)
        counts = {t: target.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables
                  if t != "alembic_version"}
        target.close()
    finally:
        source.close()
    print(f"backed up {Path(url.database).resolve()} to {target_path}")
    for table, count in counts.items():
        print(f"  {table:<24} {count:>8} row(s)")
    return 0
