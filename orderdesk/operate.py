"""The operator's commands: `orderdesk jobs`, `orderdesk outbox list|retry`, `orderdesk doctor`."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from core import outbox
from core.db import make_engine, make_sessionmaker
from core.models import JobRun, OutboundMessage
from core.settings import Settings
from core.uow import UnitOfWork


async def _with_uow(settings: Settings, work, commit: bool = False):
    engine = make_engine(settings.database_url)
    try:
        async with UnitOfWork(make_sessionmaker(engine), settings)() as tx:
            result = await work(tx)
            if commit:
                await tx.commit()
            return result
    finally:
        await engine.dispose()


async def jobs(settings: Settings) -> int:
    from webhooks import scheduler

    async def last_runs(tx):
        rows = await tx.session.execute(select(JobRun).order_by(JobRun.id.desc()).limit(500))
        latest: dict[str, JobRun] = {}
        for run in rows.scalars():
            latest.setdefault(run.job, run)
        return latest

    latest = await _with_uow(settings, last_runs)
    now = datetime.now(timezone.utc)
    planned = scheduler.schedule(settings)
    print(f"{'job':<18} {'next run (UTC)':<20} last run and result")
    for job, _operation, trigger in planned:
        upcoming = trigger.get_next_fire_time(None, now)
        run = latest.get(job.name)
        last = f"{run.started_at:%Y-%m-%d %H:%M} {run.result or 'running or failed'}" if run else "never"
        print(f"{job.name:<18} {upcoming.astimezone(timezone.utc):%Y-%m-%d %H:%M}     {last}")
    off = {"payment_reminders", "expire_pending", "daily_digest"} - {job.name for job, _, _ in planned}
    for name in sorted(off):
        print(f"{name:<18} off")
    return 0


async def outbox_list(settings: Settings, failed_only: bool) -> int:
    async def rows(tx):
        query = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(50)
        if failed_only:
            query = query.where(OutboundMessage.status.in_(("failed", "undelivered")))
        else:
            query = query.where(OutboundMessage.status.not_in(("sent", "delivered", "read")))
        return (await tx.session.execute(query)).scalars().all()

    messages = await _with_uow(settings, rows)
    if not messages:
        print("nothing waiting or failed" if not failed_only else "no failed messages")
    for m in messages:
        why = f" {m.error_code or ''} {m.error_message or ''}".rstrip()
        print(f"#{m.id:<6} {m.status:<11} {m.to_phone:<15} {m.kind:<22} tries {m.attempts}{why}")
    return 0


async def outbox_retry(settings: Settings, message_id: int | None) -> int:
    """Re-queue one message by id, or every failed one (message_id None)."""
    async def retry(tx):
        status = message_id and await tx.session.scalar(
            select(OutboundMessage.status).where(OutboundMessage.id == message_id))
        return status, await outbox.retry(tx, message_id=message_id)

    status, count = await _with_uow(settings, retry, commit=True)
    if message_id is not None and status is None:
        print(f"no message #{message_id}; see orderdesk outbox list")
        return 1
    if message_id is not None and not count:
        print(f"message #{message_id} is {status}, not failed: nothing to send again")
        return 1
    print(f"{count} message(s) queued again; a running server sends them within a few seconds")
    return 0


async def doctor(settings: Settings) -> int:
    """Check what must hold for the shop to work (CONTRACT §1); exit 1 when something must be fixed.

    What only production needs (an https PUBLIC_BASE_URL, Twilio credentials, admins and their
    `admin_alert` template) is a note in development and a failure with ORDERDESK_ENV=production.
    """
    from core.migrate import current_revision, head, is_behind, missing_sqlite_file

    production = settings.orderdesk_env == "production"
    problems: list[str] = []

    def check(ok: bool, good: str, bad: str, *, production_only: bool = False) -> None:
        if ok:
            print(f"  ok   {good}")
        elif production_only and not production:
            print(f"  note {bad}")
        else:
            print(f"  FIX  {bad}")
            problems.append(bad)

    print(f"database {settings.database_url.split('@')[-1]} ({settings.orderdesk_env})")
    missing = missing_sqlite_file(settings.database_url)
    try:
        if missing:  # connecting would create it empty
            raise FileNotFoundError(f"no database at {missing}")
        engine = make_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                current = await current_revision(conn)
        finally:
            await engine.dispose()
        check(True, "database answers", "")
        check(not is_behind(current), f"schema is at revision {current} (the code needs {head()})",
              f"schema is at {current or 'nothing (no tables)'}, the code needs {head()}: run orderdesk db upgrade")
    except Exception as exc:  # any failure here is a finding to print, not a crash
        check(False, "", f"database unreachable or not migrated ({type(exc).__name__}: {exc}); "
                         "check DATABASE_URL, then run orderdesk db upgrade")
    if settings.twilio_enabled:
        check(*await _twilio_account(settings))
    else:
        check(False, "", "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set: messages are only logged "
                         "(console mode)", production_only=True)
    check(bool(settings.admin_phones), f"{len(settings.admin_phones)} admin phone(s)",
          "ADMIN_PHONES is empty: nobody can confirm from WhatsApp or receive alerts", production_only=True)
    check(bool(settings.whatsapp_templates.get("admin_alert")), "admins' alerts cross the 24-hour window "
          "(admin_alert template)", "no admin_alert template in WHATSAPP_TEMPLATES: an admin who has not "
          "written for 24 hours hears nothing", production_only=True)
    check(bool(settings.secret_key), "SECRET_KEY signs account tokens",
          "SECRET_KEY is not set: account tokens are signed with a key kept in the database", production_only=True)
    check(settings.public_base_url.startswith("https://"), f"PUBLIC_BASE_URL is {settings.public_base_url}",
          f"PUBLIC_BASE_URL is {settings.public_base_url}; Twilio needs a public https URL", production_only=True)
    base = settings.public_base_url.rstrip("/")
    print("\nPaste into Twilio (WhatsApp sender or sandbox settings):")
    print(f"  When a message comes in:  POST {base}/webhooks/twilio/whatsapp")
    print(f"  Status callback URL:      POST {base}/webhooks/twilio/status")
    if settings.ledger_token:   # the shop's own ledger (README: "The shop's own ledger")
        print("\nThe SMS forwarder on the shop's phone (the shop's own ledger):")
        print(f"  URL:                      POST {base}/webhooks/ledger")
        print("  Header:                   Authorization: Bearer <LEDGER_TOKEN>")
    if problems:
        print(f"\n{len(problems)} thing(s) to fix.")
        return 1
    print("\nAll good." if production else "\nGood for development; the notes are what production needs.")
    return 0


async def _twilio_account(settings: Settings) -> tuple[bool, str, str]:
    """Ask Twilio for the account the credentials name: (accepted, what to print if so, if not)."""
    from twilio.base.exceptions import TwilioRestException
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client

    http = AsyncTwilioHttpClient(timeout=10)
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)
    client.api.base_url = base = settings.twilio_api_base_url.rstrip("/")
    try:
        account = await client.api.v2010.accounts(settings.twilio_account_sid).fetch_async()
    except TwilioRestException as exc:
        return False, "", (f"Twilio refused the credentials (HTTP {exc.status}, {exc.msg}): check "
                           "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    except Exception as exc:  # no answer: DNS, network, time-out
        return False, "", f"could not reach Twilio at {base} ({type(exc).__name__}: {exc})"
    finally:
        await http.close()
    return True, f"Twilio accepts the credentials (account {account.friendly_name!r}, {account.status})", ""
