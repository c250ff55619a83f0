"""Leader election through the database: a lease row with an epoch (PostgreSQL and SQLite alike).

Every replica serves the API; the one holding the lease runs the control loop. A holder renews
its lease before each stage of a cycle; a lease not renewed for ``ttl_s`` can be taken by another
replica, which raises the epoch. **Fencing:** every write of the loop checks, in its own
transaction, that this replica still holds the lease at its epoch and that the lease has not
expired (:meth:`Lease.fence`), so a leader paused past its lease (SIGSTOP, a long pause, a lost
network) that wakes up changes nothing. Times are UTC wall clock; keep replicas' clocks in sync
(NTP) to well under ``ttl_s``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from suanwang.errors import TemporaryError
from suanwang.scheduler.db.models import LeaseRow


class Fenced(TemporaryError):
    """This replica no longer holds the lease: its writes are refused."""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Lease:
    def __init__(
        self,
        sessions: sessionmaker,
        holder: str,
        ttl_s: float = 10.0,
        name: str = "control-loop",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions, self.holder, self.ttl_s, self.name, self.clock = sessions, holder, ttl_s, name, clock
        self.epoch: int | None = None  # the epoch this replica holds, if any

    def acquire(self) -> bool:
        """Take or renew the lease; ``True`` if this replica leads now."""
        now = self.clock()
        try:
            with self.sessions.begin() as s:
                if s.get_bind().dialect.name == "postgresql":  # never wait long for a paused holder's lock
                    s.execute(text("SET LOCAL lock_timeout = '1s'"))
                row = s.get(LeaseRow, self.name, with_for_update=True)
                until = now + timedelta(seconds=self.ttl_s)
                if row is None:
                    s.add(LeaseRow(name=self.name, holder=self.holder, epoch=1, renewed_at=now, expires_at=until))
                    self.epoch = 1
                elif row.holder == self.holder and row.epoch == self.epoch and row.expires_at > now:
                    row.renewed_at, row.expires_at = now, until
                elif row.expires_at <= now or row.holder == self.holder:
                    # expired, or held by an earlier run of this same replica (restarted): a new epoch
                    # fences whatever the old one still tries
                    row.holder, row.epoch, row.renewed_at, row.expires_at = self.holder, row.epoch + 1, now, until
                    self.epoch = row.epoch
                else:
                    self.epoch = None
        except (IntegrityError, OperationalError, DBAPIError):  # another replica won the race, or a lock wait
            self.epoch = None
        return self.epoch is not None

    def fence(self, s: Session) -> None:
        """In the caller's transaction: raise :class:`Fenced` unless this replica holds the lease."""
        row = s.get(LeaseRow, self.name, with_for_update=True)
        if self.epoch is None or row is None or row.holder != self.holder or row.epoch != self.epoch:
            raise Fenced(f"replica {self.holder} no longer leads (epoch {self.epoch}); the leader is another", 1.0)
        if row.expires_at <= self.clock():
            raise Fenced(f"replica {self.holder}'s lease expired at {row.expires_at:%H:%M:%S} UTC; not writing", 1.0)

    def release(self) -> None:
        """Give the lease up at once (on shutdown), if held."""
        if self.epoch is None:
            return
        try:
            with self.sessions.begin() as s:
                row = s.get(LeaseRow, self.name, with_for_update=True)
                if row is not None and row.holder == self.holder and row.epoch == self.epoch:
                    row.expires_at = self.clock()
        except OperationalError:
            pass
        self.epoch = None

    def leader(self) -> tuple[str, int] | None:
        """``(holder, epoch)`` of the live lease, if any."""
        with self.sessions() as s:
            row = s.get(LeaseRow, self.name)
            if row is None or row.expires_at <= self.clock():
                return None
            return row.holder, row.epoch
