"""The operator's commands, run as a shop owner runs them: `orderdesk outbox`, `jobs`, `doctor`."""
import asyncio
import os
import subprocess
import sys
from datetime import datetime, timezone

from sqlalchemy import create_engine, text

from core.migrate import upgrade

ENV_SCRUB = ("DATABASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "ADMIN_PHONES", "PUBLIC_BASE_URL", "SECRET_KEY")


def orderdesk(tmp_path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ENV_SCRUB}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    env.update(settings)
    return subprocess.run([sys.executable, "-m", "orderdesk", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def _failed_message(tmp_path) -> None:
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with create_engine(f"sqlite:///{tmp_path / 'shop.db'}").begin() as db:
        db.execute(text("INSERT INTO outbound_messages (key, kind, to_phone, body, variables, status, error_code, "
                        "error_message, attempts, next_attempt_at, created_at, updated_at) VALUES ('k1', "
                        "'order_status', '+254712345678', 'hi', '{}', 'failed', '21211', 'invalid number', 1, "
                        ":now, :now, :now)"), {"now": now})


def test_outbox_lists_failed_messages_and_queues_them_again(tmp_path):
    _failed_message(tmp_path)

    listed = orderdesk(tmp_path, "outbox", "list", "--failed")
    retried = orderdesk(tmp_path, "outbox", "retry", "--failed")
    after = orderdesk(tmp_path, "outbox", "list", "--failed")

    assert "+254712345678" in listed.stdout and "21211" in listed.stdout
    assert retried.returncode == 0 and "1 message(s) queued again" in retried.stdout
    assert "no failed messages" in after.stdout


def test_outbox_retry_of_an_unknown_id_says_so(tmp_path):
    _failed_message(tmp_path)

    done = orderdesk(tmp_path, "outbox", "retry", "999")
    sent = orderdesk(tmp_path, "outbox", "retry", "1")  # the failed one, queued again: no longer failed
    again = orderdesk(tmp_path, "outbox", "retry", "1")

    assert done.returncode == 1 and done.stdout.strip() == "no message #999; see orderdesk outbox list"
    assert sent.returncode == 0 and "1 message(s) queued again" in sent.stdout
    assert again.returncode == 1 and again.stdout.strip() == "message #1 is queued, not failed: nothing to send again"


def test_jobs_lists_each_job_with_its_next_run(tmp_path):
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")

    done = orderdesk(tmp_path, "jobs")

    assert done.returncode == 0
    assert "payment_reminders" in done.stdout and "daily_digest" in done.stdout and "expire_pending" in done.stdout


def test_doctor_prints_the_webhook_urls_and_fails_on_what_must_be_fixed(tmp_path):
    done = orderdesk(tmp_path, "doctor")  # no database yet, no Twilio, no admins

    assert done.returncode == 1
    assert "/webhooks/twilio/whatsapp" in done.stdout and "/webhooks/twilio/status" in done.stdout
    assert "orderdesk db upgrade" in done.stdout and "ADMIN_PHONES" in done.stdout
    assert not (tmp_path / "shop.db").exists()  # only `db upgrade` creates the database


def test_doctor_in_development_notes_what_production_needs_and_passes(tmp_path):
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")

    done = orderdesk(tmp_path, "doctor")  # console mode, no admins, http://127.0.0.1 — fine to develop

    assert done.returncode == 0, done.stdout
    notes = [line for line in done.stdout.splitlines() if line.startswith("  note")]
    assert len(notes) == 5 and "FIX" not in done.stdout, done.stdout
    assert any("PUBLIC_BASE_URL" in n for n in notes) and any("ADMIN_PHONES" in n for n in notes)
    assert any("SECRET_KEY" in n for n in notes)


def test_doctor_in_production_fails_on_what_production_needs(tmp_path):
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")

    done = orderdesk(tmp_path, "doctor", ORDERDESK_ENV="production")

    assert done.returncode == 1
    assert done.stdout.count("  FIX") == 5 and "5 thing(s) to fix" in done.stdout, done.stdout


async def test_doctor_asks_twilio_whether_it_accepts_the_credentials(tmp_path, twilio):
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    account = {"TWILIO_API_BASE_URL": twilio.base_url, "TWILIO_ACCOUNT_SID": twilio.account_sid,
               "ADMIN_PHONES": "+254700000001", "PUBLIC_BASE_URL": "https://shop.example.com"}

    accepted = await asyncio.to_thread(orderdesk, tmp_path, "doctor", TWILIO_AUTH_TOKEN=twilio.auth_token, **account)
    refused = await asyncio.to_thread(orderdesk, tmp_path, "doctor", TWILIO_AUTH_TOKEN="x" * 32, **account)

    assert accepted.returncode == 0 and "ok   Twilio accepts the credentials" in accepted.stdout, accepted.stdout
    assert refused.returncode == 1, refused.stdout
    assert "FIX  Twilio refused the credentials (HTTP 401" in refused.stdout and "Traceback" not in refused.stderr
