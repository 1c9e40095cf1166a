"""The scheduled jobs, on APScheduler's AsyncIOScheduler inside the server process.

APScheduler decides when; the database decides who: every run goes through `jobs.run_once` with a
due key (the sweep's time slot, or the digest's local date), so with several server processes on
one PostgreSQL each due time runs once. Beside the jobs, every process folds the tallies
(core/tallies.py) and indexes new orders for search (core/search_index.py: on SQLite its backlog, on
PostgreSQL the trigram index's pending list) every second, which is safe to do anywhere at any time.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core import jobs, ledger, logcontext, search_index, tallies
from core.settings import Settings
from webhooks.observe import Meters, Throttled

log = logging.getLogger("orderdesk.jobs")


def every_sweep(settings: Settings) -> IntervalTrigger:
    return IntervalTrigger(seconds=max(int(settings.job_sweep_interval.total_seconds()), 1))


def schedule(settings: Settings) -> list[tuple[jobs.Job, object, object]]:
    """(job, operation, trigger) for every job the settings switch on."""
    sweep = every_sweep(settings)
    planned = []
    if settings.payment_reminder_after is not None:
        planned.append((jobs.REMINDERS, jobs.remind_unpaid, sweep))
    if settings.pending_expiry_after is not None:
        planned.append((jobs.EXPIRY, jobs.expire_unpaid, sweep))
    if settings.ledger_token and settings.ledger_grace is not None:
        planned.append((jobs.LEDGER_GRACE, ledger.flag_overdue, sweep))
    if settings.daily_digest_at is not None:
        hour, minute = map(int, settings.daily_digest_at.split(":"))
        planned.append((jobs.DIGEST, jobs.daily_digest,
                        CronTrigger(hour=hour, minute=minute, timezone=ZoneInfo(settings.shop_timezone))))
    return planned


def due_key(job: jobs.Job, now: datetime, settings: Settings) -> str:
    """Which due time `now` belongs to: the sweep slot, or the shop's local date for the digest."""
    if job is jobs.DIGEST:
        return now.astimezone(ZoneInfo(settings.shop_timezone)).date().isoformat()
    slot = int(settings.job_sweep_interval.total_seconds()) or 1
    return str(int(now.timestamp()) // slot)


async def run(uow, job: jobs.Job, operation, meters: Meters | None = None) -> str | None:
    """One due run of `job` (its claim, then its work, in short transactions of their own); a failure
    is logged and counted, and the next due time tries again. The run has a request id of its own
    (`<job>-<hex>`), which the messages it queues keep, as a request's do."""
    with logcontext.bound(request_id=f"{job.name}-{uuid.uuid4().hex[:12]}"):
        try:
            result = await jobs.run_once(uow, job, due_key(job, uow.now(), uow.settings), operation)
        except Exception:  # a job must never take the scheduler down; the next due time tries again
            log.exception("job %s failed", job.name)
            if meters is not None:
                meters.jobs.labels(job.name, "failed").inc()
            return None
        if result is not None:  # None: another process ran this due time
            log.info("job %s: %s", job.name, result)
            if meters is not None:
                meters.jobs.labels(job.name, "ok").inc()
    return result


KEEP_UP_EVERY_S = 1


async def keep_up(uow, complaint: Throttled) -> None:
    """Fold the tallies: each count is exact without it, only slower."""
    try:
        await tallies.fold(uow)
    except Exception:  # the sums stay exact unfolded; the next interval tries again
        complaint.exception("folding the tallies failed")


async def index_new_orders(uow, complaint: Throttled) -> None:
    """Index new orders for search (a job of its own: on PostgreSQL folding a long pending list into
    the trigram index can take a while, and the tallies must not wait for it)."""
    try:
        await search_index.catch_up(uow)
    except Exception:  # the search is exact without it, only slower; the next interval tries again
        complaint.exception("indexing new orders for search failed")


def start(uow, settings: Settings, meters: Meters | None = None) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=ZoneInfo(settings.shop_timezone))
    for job, operation, trigger in schedule(settings):
        scheduler.add_job(run, trigger, args=(uow, job, operation, meters), id=job.name, name=job.describe,
                          max_instances=1, coalesce=True, misfire_grace_time=300)
    # Every second, so a count never sums more than about a second's worth of changes (under load,
    # thousands: at 5 s, summing them was an eighth of a PostgreSQL list's time), nor a search tests
    # more than a second's new orders row by row; each is a few short transactions.
    scheduler.add_job(keep_up, IntervalTrigger(seconds=KEEP_UP_EVERY_S), args=(uow, Throttled(log)),
                      id="keep_up", name="fold the tallies", max_instances=1, coalesce=True, misfire_grace_time=300)
    scheduler.add_job(index_new_orders, IntervalTrigger(seconds=KEEP_UP_EVERY_S), args=(uow, Throttled(log)),
                      id="index_new_orders", name="index new orders for search", max_instances=1, coalesce=True,
                      misfire_grace_time=300)
    scheduler.start()
    return scheduler
