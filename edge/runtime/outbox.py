"""Durable alert outbox on SQLite (WAL journal, ``synchronous=FULL``).

Every alert is committed here *before* it is delivered anywhere. Two delivery marks:

* ``sunk``: written to the local sinks (JSON lines); set after the write returned;
* ``delivered``: the amplifier ACKed its ALERT frame (or, with no amplifier link, the local
  sinks are the delivery and ``delivered`` is set with ``sunk``).

After a crash, kill -9 or power loss the next start re-sends every row not yet ``delivered``
and re-writes every row not yet ``sunk``. Alert ids come from SQLite's ``AUTOINCREMENT``
counter (kept in ``sqlite_sequence``), so they are never reused, even after pruning, and a
re-sent alert carries the id it was first sent with: the amplifier drops duplicates by id,
and the host application sees each alert once.

Disk use is bounded: delivered rows beyond the newest ``keep_delivered`` are pruned.

The outbox owns its file: an exclusive ``flock`` on the database file, held while it is open,
so a second process on the same file is refused (:class:`OutboxError`, one line) instead of
marking the first one's alerts delivered. Each row says whether it waits for the amplifier's ACK
(``needs_ack``: stored while a link was the way back); a run without a link delivers only rows
that do not. A damaged file (SQLite's ``quick_check`` fails or a row does not parse) is refused
at open with the recovery command (``emg-edge outbox salvage FILE``, :mod:`edge.runtime.outbox_cli`).
A failed write (disk full, I/O error) raises :class:`OutboxWriteError` after SQLite's rollback,
leaving the file as it was: the caller keeps the alert and retries (:mod:`edge.runtime.delivery`).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from edge.runtime.alerts import AlertRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    body TEXT NOT NULL,
    sunk INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    delivered_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_pending ON alerts(delivered, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: Added after schema 1 shipped; a file without it gains it at open (old rows: 1, the safe side).
_NEEDS_ACK = "ALTER TABLE alerts ADD COLUMN needs_ack INTEGER NOT NULL DEFAULT 1"
#: Columns of a row as :meth:`Outbox.rows` returns them and :meth:`Outbox.import_rows` takes them.
ROW_COLUMNS = ("id", "created", "body", "sunk", "delivered", "delivered_at", "attempts", "needs_ack")

SCHEMA_VERSION = "1"


class OutboxError(Exception):
    """The outbox file cannot be used (message says why)."""


class OutboxWriteError(OutboxError):
    """A write failed (disk full, I/O error) and was rolled back; the file is as it was before."""


def salvage_hint(path: str) -> str:
    return f"run `emg-edge outbox salvage {path}` to keep every readable alert"


def parse_body(body: str) -> AlertRecord:
    """A row's JSON body → :class:`AlertRecord` (ValueError/TypeError when it is not one)."""
    d = json.loads(body)
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    return AlertRecord.from_dict(d)


def lock_file(path: str | Path) -> int:
    """An exclusive flock on the outbox file ``path`` (created if missing); returns the descriptor
    that holds it (closing it, or the process's death, releases it). OutboxError if taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise OutboxError(f"outbox {path} is in use by another process (one outbox file per service: "
                          "stop the other one or give this one its own --outbox)") from None
    return fd


class Outbox:
    """Store-then-deliver queue of :class:`AlertRecord`.

    ``path=":memory:"`` keeps it in memory (replays of WAV files with no durability need).
    Thread-safe: one connection guarded by a lock.
    """

    def __init__(self, path: str | Path = ":memory:", keep_delivered: int = 10000) -> None:
        self.path = str(path)
        self.keep_delivered = int(keep_delivered)
        self._lockfd: int | None = None
        if self.path != ":memory:":
            parent = Path(self.path).expanduser().resolve().parent
            if not parent.is_dir():
                raise OutboxError(f"outbox directory does not exist: {parent}")
            self._take_lock()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: the WAL is fsync'ed at every commit, so a committed alert survives power loss.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise OutboxError(f"outbox {self.path} has schema version {row[0]}, this runtime uses {SCHEMA_VERSION}")
            if "needs_ack" not in {r[1] for r in self._db.execute("PRAGMA table_info(alerts)")}:
                self._db.execute(_NEEDS_ACK)
            problems = self.check()
        except sqlite3.OperationalError as exc:  # disk full, cannot open: not the file's content
            self.close()
            raise OutboxWriteError(f"outbox {self.path} cannot be used now ({exc})") from None
        except sqlite3.DatabaseError as exc:
            self.close()
            raise OutboxError(f"outbox {self.path} is damaged or not an SQLite file ({exc}): "
                              f"{salvage_hint(self.path)}") from None
        except OutboxError:
            self.close()
            raise
        if problems:
            self.close()
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise OutboxError(f"outbox {self.path} is damaged: {problems[0]}{more}; {salvage_hint(self.path)}")

    def _take_lock(self) -> None:
        self._lockfd = lock_file(self.path)

    def _unlock(self) -> None:
        if self._lockfd is not None:
            os.close(self._lockfd)  # closing the descriptor releases the flock
            self._lockfd = None

    def check(self) -> list[str]:
        """What is wrong with the file: SQLite's ``quick_check`` and rows that do not parse as
        alerts (empty when it is sound)."""
        with self._lock:
            problems = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall() if r[0] != "ok"]
            rows = self._db.execute("SELECT id, body FROM alerts ORDER BY id").fetchall()
        for alert_id, body in rows:
            try:
                if parse_body(body).id != alert_id:
                    raise ValueError("its id differs from its row's")
            except (ValueError, TypeError) as exc:
                problems.append(f"alert {alert_id} does not parse ({' '.join(str(exc).split())[:80]})")
        return problems

    # -- writing -----------------------------------------------------------------------------
    def store(self, fields: dict[str, Any], needs_ack: bool = True) -> AlertRecord:
        """Commit a new alert (all :class:`AlertRecord` fields except ``id``); return it with its id.

        ``needs_ack``: it is delivered when the amplifier ACKs it (False: when the local outputs
        wrote it, a run without a link). :class:`OutboxWriteError` if it could not be committed.
        """
        with self._lock, self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute("INSERT INTO alerts(created, body, needs_ack) VALUES (?, ?, ?)",
                                   (time.time(), "{}", int(bool(needs_ack))))
            alert_id = int(cur.lastrowid)
            record = AlertRecord(id=alert_id, **fields)
            self._db.execute("UPDATE alerts SET body=? WHERE id=?", (record.to_json(), alert_id))
            self._db.execute("COMMIT")
        return record

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write: on failure roll back what SQLite has not already rolled back (a full disk
        ends the transaction itself) and raise :class:`OutboxWriteError`."""
        try:
            yield
        except BaseException as exc:
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.OperationalError):
                raise OutboxWriteError(f"outbox {self.path}: {exc}") from None
            raise

    def mark_sunk(self, alert_id: int) -> None:
        with self._lock, self._writing():
            self._db.execute("UPDATE alerts SET sunk=1 WHERE id=?", (int(alert_id),))

    def mark_attempt(self, alert_id: int) -> None:
        with self._lock, self._writing():
            self._db.execute("UPDATE alerts SET attempts=attempts+1 WHERE id=?", (int(alert_id),))

    def mark_delivered(self, alert_ids: list[int] | tuple[int, ...]) -> int:
        """Mark ACKed alerts delivered; returns how many changed state. Prunes old rows."""
        if not alert_ids:
            return 0
        now = time.time()
        with self._lock, self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            changed = 0
            for aid in alert_ids:
                cur = self._db.execute(
                    "UPDATE alerts SET delivered=1, delivered_at=? WHERE id=? AND delivered=0", (now, int(aid))
                )
                changed += cur.rowcount
            self._prune_locked()
            self._db.execute("COMMIT")
        return changed

    def _prune_locked(self) -> None:
        if self.keep_delivered <= 0:
            self._db.execute("DELETE FROM alerts WHERE delivered=1 AND sunk=1")
            return
        self._db.execute(
            "DELETE FROM alerts WHERE delivered=1 AND sunk=1 AND id <= "
            "(SELECT id FROM alerts WHERE delivered=1 ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (self.keep_delivered,),
        )

    # -- reading -----------------------------------------------------------------------------
    def _records(self, where: str) -> list[AlertRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT body FROM alerts WHERE {where} ORDER BY id").fetchall()
        return [parse_body(r[0]) for r in rows]

    def undelivered(self, needs_ack: bool | None = None) -> list[AlertRecord]:
        """Alerts not yet delivered, oldest first (``needs_ack`` True/False: only those that
        wait for the amplifier's ACK / for the local outputs)."""
        return self._records("delivered=0" + ("" if needs_ack is None else f" AND needs_ack={int(needs_ack)}"))

    def unsunk(self) -> list[AlertRecord]:
        """Alerts not yet written to the local sinks, oldest first."""
        return self._records("sunk=0")

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM alerts WHERE delivered=0").fetchone()[0])

    def get(self, alert_id: int) -> AlertRecord | None:
        recs = self._records(f"id={int(alert_id)}")
        return recs[0] if recs else None

    def last_id(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='alerts'").fetchone()
        return int(row[0]) if row else 0

    def __iter__(self) -> Iterator[AlertRecord]:
        return iter(self._records("1=1"))

    def rows(self) -> list[tuple]:
        """Every row as raw :data:`ROW_COLUMNS` values, oldest first (for recovery)."""
        with self._lock:
            return self._db.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM alerts ORDER BY id").fetchall()

    def import_rows(self, rows: list[tuple], last_id: int) -> None:
        """Insert raw :data:`ROW_COLUMNS` rows with their ids in one transaction and make the id
        counter continue after ``last_id`` (ids are never reused)."""
        with self._lock, self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(f"INSERT INTO alerts({', '.join(ROW_COLUMNS)}) VALUES "
                                 f"({', '.join('?' * len(ROW_COLUMNS))})", rows)
            self._db.execute("DELETE FROM sqlite_sequence WHERE name='alerts'")
            self._db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('alerts', ?)", (int(last_id),))
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            try:
                if self._db is not None:
                    self._db.close()
            except sqlite3.Error:
                pass
        self._unlock()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
