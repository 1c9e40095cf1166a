"""The first run, as a new shop and a platform meet it (CONTRACT §1): settings as people and
platforms write them — the forms Heroku and others set are taken as they are, every wrong one is a
line `NAME: what is wrong (an example that works)`, all at once, exit code 2, no traceback — and
the database a command is pointed at."""
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from core.catalog import DEMO_CATALOG
from core.migrate import head, upgrade
from core.settings import Settings, problems
from tests.live_server import _SCRUB, free_port

WRONG = {  # each as the issue saw it, with the words its line must say
    "DEFAULT_REGION": ("Kenya", "DEFAULT_REGION: 'Kenya' is not a region code"),
    "ORDERDESK_ENV": ("prod", "ORDERDESK_ENV: 'prod' is neither development nor production"),
    "PAYMENT_REMINDER_AFTER": ("6 hours", "PAYMENT_REMINDER_AFTER: '6 hours' is not a duration"),
    "DAILY_DIGEST_AT": ("8pm", "DAILY_DIGEST_AT: '8pm' is not a time of day"),
    "SHOP_TIMEZONE": ("Nairobi", "SHOP_TIMEZONE: 'Nairobi' is not an IANA time zone"),
    "LOW_STOCK_THRESHOLD": ("a few", "LOW_STOCK_THRESHOLD: "),
    "WHATSAPP_TEMPLATES": ('{"order_stauts": "HX1"}', "WHATSAPP_TEMPLATES: 'order_stauts' is not a message kind"),
    "PUBLIC_BASE_URL": ("shop.example.com", "PUBLIC_BASE_URL: 'shop.example.com' is not an http(s) URL"),
    "DATABASE_URL": ("mysql://db/shop", "DATABASE_URL: 'mysql' is not a database orderdesk runs on"),
    "SECRET_KEY": ("hunter2", "SECRET_KEY: 7 characters is too short to sign tokens"),
    "ACCESS_TOKEN_LIFETIME": ("off", "ACCESS_TOKEN_LIFETIME: a token needs a lifetime"),
    "REFRESH_TOKEN_LIFETIME": ("a week", "REFRESH_TOKEN_LIFETIME: 'a week' is not a duration"),
}


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **{name.lower(): value for name, value in env.items()})


def orderdesk(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in _SCRUB and k != "PORT"}
    environment.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'shop.db'}")
    return subprocess.run([sys.executable, "-m", "orderdesk", *args], cwd=tmp_path, env={**environment, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", WRONG)
def test_each_wrong_setting_is_one_line_naming_it(name):
    value, words = WRONG[name]
    with pytest.raises(ValidationError) as refused:
        settings(**{name: value})

    [line] = problems(refused.value)
    assert line.startswith(words) and line.endswith(")") and "(e.g. " in line, line


def test_a_command_with_wrong_settings_says_all_of_them_at_once_and_exits_2(tmp_path):
    done = orderdesk(tmp_path, "doctor", **{name: value for name, (value, _) in WRONG.items()})

    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert "Traceback" not in done.stderr and len(lines) == len(WRONG), done.stderr
    for name, (_, words) in WRONG.items():
        assert any(line.startswith(words) for line in lines), (name, done.stderr)


def test_admin_phones_are_read_in_the_region_and_kept_in_e164():
    assert settings(DEFAULT_REGION="ke", ADMIN_PHONES="0712 345 678, +255 742 000 000").admin_phones == [
        "+254712345678", "+255742000000"]


def test_an_admin_phone_that_is_no_number_in_the_region_is_refused_naming_it():
    with pytest.raises(ValidationError) as refused:
        settings(ADMIN_PHONES="0712345678")  # the default region is US, where this is no number

    assert problems(refused.value) == [
        "ADMIN_PHONES: '0712345678' is not a phone number in region US (write it with its country code)"]


@pytest.mark.parametrize("given, driver", [
    ("postgres://u:secret@db.example.com:5432/shop", "postgresql+asyncpg"),
    ("postgresql://u:secret@db.example.com/shop", "postgresql+asyncpg"),
    ("sqlite:///./orderdesk.db", "sqlite+aiosqlite"),
    ("sqlite+aiosqlite:///./orderdesk.db", "sqlite+aiosqlite"),
])
def test_the_database_urls_platforms_set_are_taken_as_they_are(given, driver):
    url = make_url(settings(DATABASE_URL=given).database_url)
    assert url.drivername == driver and url.database == make_url(given).database
    assert url.password == make_url(given).password


def test_libpqs_sslmode_reaches_the_driver_as_its_ssl():
    url = make_url(settings(DATABASE_URL="postgres://u@db.example.com/shop?sslmode=require").database_url)
    assert dict(url.query) == {"ssl": "require"}


@pytest.mark.parametrize("scheme, query", [("postgres", ""), ("postgresql", "?sslmode=disable")])
def test_commands_run_on_herokus_own_database_url(tmp_path, postgres_database, scheme, query):
    url = make_url(postgres_database)
    given = f"{scheme}://{url.username}@{url.host}:{url.port}/{url.database}{query}"

    for command in (["db", "upgrade"], ["jobs"]):
        done = orderdesk(tmp_path, *command, DATABASE_URL=given)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_a_bad_port_in_the_environment_is_one_line(tmp_path):
    done = orderdesk(tmp_path, "serve", PORT="eighty")

    assert done.returncode == 2 and "'eighty' is not a port number" in done.stderr
    assert "Traceback" not in done.stderr


# -- the database a command is pointed at (issue 13 item 2): only `db upgrade` creates one; every
# other command refuses a missing, unreachable or outdated one in one line.

def test_a_command_in_the_wrong_directory_creates_no_database_and_says_what_to_run(tmp_path):
    for command in (["token", "create", "--role", "admin", "--name", "owner"], ["serve"], ["jobs"]):
        done = orderdesk(tmp_path, *command)

        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip() == (f"no database at {tmp_path / 'shop.db'}: run `orderdesk db upgrade` first "
                                       "(or set DATABASE_URL to the shop's database)")
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_a_schema_behind_the_code_in_one_line(tmp_path):
    upgrade(f"sqlite:///{tmp_path / 'shop.db'}", "0004")

    done = orderdesk(tmp_path, "serve", "--port", str(free_port()))

    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"the database schema is at 0004, the code needs {head()}: "
                                   "run `orderdesk db upgrade`")


def test_serve_refuses_a_postgresql_database_that_does_not_exist_in_one_line(tmp_path, postgres_database):
    url = make_url(postgres_database).set(database="no_such_shop")

    done = orderdesk(tmp_path, "serve", "--port", str(free_port()), DATABASE_URL=url.render_as_string(False))

    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert 'database "no_such_shop" does not exist' in done.stderr and "DATABASE_URL" in done.stderr


def test_db_upgrade_says_what_it_did(tmp_path):
    first, second = orderdesk(tmp_path, "db", "upgrade"), orderdesk(tmp_path, "db", "upgrade")

    assert first.stdout.strip() == f"database created at revision {head()}"
    assert second.stdout.strip() == f"database is up to date (revision {head()})"


def test_db_backup_refuses_a_missing_database_and_writes_nothing(tmp_path):
    done = orderdesk(tmp_path, "db", "backup", str(tmp_path / "backup.db"))

    assert done.returncode == 2 and f"no database at {tmp_path / 'shop.db'}" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_db_backup_into_a_missing_directory_is_one_line(tmp_path):
    orderdesk(tmp_path, "db", "upgrade")

    done = orderdesk(tmp_path, "db", "backup", str(tmp_path / "nowhere" / "backup.db"))

    assert done.returncode == 2
    assert done.stderr.strip() == f"no directory {tmp_path / 'nowhere'} to write the backup into: create it first"


def test_db_backup_prints_the_rows_it_kept(tmp_path):
    orderdesk(tmp_path, "db", "upgrade")
    orderdesk(tmp_path, "seed-demo")

    done = orderdesk(tmp_path, "db", "backup", str(tmp_path / "backup.db"))

    assert done.returncode == 0, done.stderr
    assert re.search(rf"^\s+products\s+{len(DEMO_CATALOG)} row\(s\)$", done.stdout, re.M), done.stdout
    with sqlite3.connect(tmp_path / "backup.db") as backup:
        assert backup.execute("SELECT count(*) FROM products").fetchone()[0] == len(DEMO_CATALOG)


def serving(tmp_path, *args: str, **env: str) -> tuple[subprocess.Popen, Path]:
    """`orderdesk serve` on the test's SQLite file, answering /health (waited for, 30 s at most)."""
    environment = {k: v for k, v in os.environ.items() if k not in _SCRUB and k != "PORT"}
    environment.update(DATABASE_URL=f"sqlite:///{tmp_path / 'shop.db'}", **env)
    log = tmp_path / f"serve-{len(list(tmp_path.glob('serve-*.log')))}.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "orderdesk", "serve", "--host", "127.0.0.1", *args],
                                  cwd=tmp_path, env=environment, stdout=out, stderr=subprocess.STDOUT)
    port = args[args.index("--port") + 1] if "--port" in args else env["PORT"]
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                if response.status == 200:
                    return server, log
        except OSError:
            assert server.poll() is None, log.read_text()
            time.sleep(0.1)
    server.kill()
    raise AssertionError(f"no answer on port {port} within 30 s:\n{log.read_text()}")


def stop(server: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    server.send_signal(sig)
    server.wait(timeout=10)


def test_serve_listens_on_port_from_the_environment_and_says_where(tmp_path):
    orderdesk(tmp_path, "db", "upgrade")
    port = free_port()

    server, log = serving(tmp_path, PORT=str(port))
    stop(server)

    assert f"orderdesk serves http://127.0.0.1:{port}" in log.read_text()


def test_a_busy_port_is_one_line(tmp_path):
    orderdesk(tmp_path, "db", "upgrade")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = orderdesk(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(port))

    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr


def test_a_second_server_on_one_sqlite_file_is_refused_naming_the_first(tmp_path):
    orderdesk(tmp_path, "db", "upgrade")
    first, _ = serving(tmp_path, "--port", str(free_port()))
    try:
        second = orderdesk(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(free_port()))
    finally:
        stop(first, signal.SIGKILL)  # a crash: the lock goes with the process

    assert second.returncode == 2, second.stderr
    assert second.stderr.strip().startswith(f"another orderdesk serve (pid {first.pid}) already serves")
    restarted, _ = serving(tmp_path, "--port", str(free_port()))  # a restart after the crash is never refused
    stop(restarted)
