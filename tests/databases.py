"""Which databases a test runs on: both by default (conftest's `db_url`), or SQLite alone."""
import pytest

# For tables of inputs refused or normalised before any SQL runs (request validation, phone parsing,
# a missing Authorization header): a second database would add only time.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
