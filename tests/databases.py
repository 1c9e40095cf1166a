"""Which databases a test runs on: both by default (conftest's `db_url`), or one alone."""
import pytest

# For tables of inputs refused or normalised before any SQL runs (request validation, phone parsing,
# a missing Authorization header): a second database would add only time.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

# For what only one database has: round trips to a server (tests/test_round_trips.py).
postgres_only = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
