"""`orderdesk db upgrade`: Alembic, configured from code so it works from an installed package."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

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
