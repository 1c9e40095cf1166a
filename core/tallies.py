"""Counts of orders, outbound and inbound messages, read from `tallies` (core/models.py `Tally`).

Triggers (migration 0005) append a +1/-1 row per insert, delete and status change, inside the
transaction that makes the change, so a sum over the tallies is exactly what counting the rows would
give in the same snapshot. Appending never waits on another transaction (no counter row is updated
in place, so none is locked). `fold` keeps the table short: it deletes the oldest rows and writes
their sums back as one row per (subject, status).
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import bindparam, delete, func, insert, select

from core.models import Tally

TALLIES = Tally.__table__
FOLD_CHUNK = 500  # rows one fold transaction takes: a few milliseconds of the write lock at most

BY_SUBJECT_AND_STATUS = (select(TALLIES.c.subject, TALLIES.c.status, func.sum(TALLIES.c.n))
                         .group_by(TALLIES.c.subject, TALLIES.c.status))
OF_SUBJECT = select(func.coalesce(func.sum(TALLIES.c.n), 0)).where(TALLIES.c.subject == bindparam("subject"))
OF_STATUS = OF_SUBJECT.where(TALLIES.c.status == bindparam("status"))
# One statement takes the rows and answers what it took, so every row is summed exactly once. A fold
# running at the same time in another process (PostgreSQL) skips the rows this one has locked, rather
# than waiting for them or deadlocking over them.
TAKE_OLDEST = (delete(TALLIES)
               .where(TALLIES.c.id.in_(select(TALLIES.c.id).order_by(TALLIES.c.id).limit(bindparam("chunk"))
                                       .with_for_update(skip_locked=True)))
               .returning(TALLIES.c.subject, TALLIES.c.status, TALLIES.c.n))
ADD = insert(TALLIES)


async def counts(uow) -> dict[str, dict[str, int]]:
    """subject -> status -> how many rows; only what there is (no zero counts)."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for subject, status, n in await uow.execute(BY_SUBJECT_AND_STATUS):
        if n:
            found[subject][status] = int(n)
    return found


async def count(uow, subject: str, status: str | None = None) -> int:
    if status is None:
        return int(await uow.scalar(OF_SUBJECT, {"subject": subject}))
    return int(await uow.scalar(OF_STATUS, {"subject": subject, "status": status}))


async def fold(uow, chunk: int = FOLD_CHUNK) -> int:
    """Sum the tallies into one row per (subject, status), `chunk` rows per short write transaction;
    returns how many rows were folded."""
    folded = 0
    while True:
        async with uow() as tx:
            taken = (await tx.execute(TAKE_OLDEST, {"chunk": chunk})).all()
            sums: dict[tuple[str, str], int] = defaultdict(int)
            for subject, status, n in taken:
                sums[(subject, status)] += n
            rows = [{"subject": subject, "status": status, "n": n} for (subject, status), n in sums.items() if n]
            if rows:
                await tx.execute(ADD, rows)
            await tx.commit()
        folded += len(taken)
        # A chunk that folded into as many rows as it took is already folded: nothing more to gain.
        if len(taken) < chunk or len(rows) >= len(taken):
            return folded
