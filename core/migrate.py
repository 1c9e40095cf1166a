"""`orderdesk db upgrade`: Alembic, configured from code so it works from an installed package."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from core.db import sqlite_file

MIGRATIONS = Path(__file__).parent / "migrations"


class MigrationStopped(RuntimeError):
    """A migration that cannot go on in this database, saying why and what to do about it."""


# Made by migration 0005's own SQL on SQLite, which the models cannot describe: the FTS5 table that
# order search reads, and the shadow tables FTS5 keeps its index in.
SEARCH_TABLES = "orders_search"


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """What autogenerate compares with the models (env.py and the schema test use the same rule)."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLES))


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


@lru_cache(maxsize=1)
def _revisions() -> tuple[str, frozenset[str]]:
    """(the head revision, every revision this code knows)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head(), frozenset(r.revision for r in script.walk_revisions())


def head() -> str:
    return _revisions()[0]


async def current_revision(conn) -> str | None:
    """The revision the database behind `conn` (an AsyncConnection) is at; None before the first upgrade."""
    def version(sync_conn) -> str | None:
        if not inspect(sync_conn).has_table("alembic_version"):
            return None
        return sync_conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    return await conn.run_sync(version)


async def schema_behind(conn) -> str | None:
    """Why the schema of the database behind `conn` (an AsyncConnection) is behind the code, or None
    when it is current or ahead (a newer release migrated it while this one still serves)."""
    current = await current_revision(conn)
    if current is None:
        return "the database has no tables yet"
    if is_behind(current):
        return f"the database schema is at {current}, the code needs {head()}"
    return None


def is_behind(revision: str | None) -> bool:
    """Whether a database at `revision` lacks migrations this code needs. A revision this code does
    not know is a newer release's: ahead, which the code still runs on during a rolling deploy."""
    latest, known = _revisions()
    return revision is None or (revision != latest and revision in known)


def missing_sqlite_file(database_url: str) -> str | None:
    """The path of a SQLite database file that does not exist, which connecting would create empty."""
    file = sqlite_file(database_url)
    if file is None:
        return None
    path = Path(file).resolve()
    return None if path.exists() else str(path)
