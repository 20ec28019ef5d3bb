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
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
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

SCHEMA_VERSION = "1"


class OutboxError(Exception):
    """The outbox file cannot be used (message says why)."""


class Outbox:
    """Store-then-deliver queue of :class:`AlertRecord`.

    ``path=":memory:"`` keeps it in memory (replays of WAV files with no durability need).
    Thread-safe: one connection guarded by a lock.
    """

    def __init__(self, path: str | Path = ":memory:", keep_delivered: int = 10000) -> None:
        self.path = str(path)
        self.keep_delivered = int(keep_delivered)
        if self.path != ":memory:":
            parent = Path(self.path).expanduser().resolve().parent
            if not parent.is_dir():
                raise OutboxError(f"outbox directory does not exist: {parent}")
        self._lock = threading.Lock()
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
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"outbox {self.path} cannot be opened as SQLite: {exc}") from None

    # -- writing -----------------------------------------------------------------------------
    def store(self, fields: dict[str, Any]) -> AlertRecord:
        """Commit a new alert (all :class:`AlertRecord` fields except ``id``); return it with its id."""
        with self._lock:
            cur = self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    "INSERT INTO alerts(created, body) VALUES (?, ?)", (time.time(), "{}")
                )
                alert_id = int(cur.lastrowid)
                record = AlertRecord(id=alert_id, **fields)
                self._db.execute("UPDATE alerts SET body=? WHERE id=?", (record.to_json(), alert_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return record

    def mark_sunk(self, alert_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE alerts SET sunk=1 WHERE id=?", (int(alert_id),))

    def mark_attempt(self, alert_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE alerts SET attempts=attempts+1 WHERE id=?", (int(alert_id),))

    def mark_delivered(self, alert_ids: list[int] | tuple[int, ...]) -> int:
        """Mark ACKed alerts delivered; returns how many changed state. Prunes old rows."""
        if not alert_ids:
            return 0
        now = time.time()
        with self._lock:
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
        return [AlertRecord.from_dict(json.loads(r[0])) for r in rows]

    def undelivered(self) -> list[AlertRecord]:
        """Alerts not yet ACKed, oldest first."""
        return self._records("delivered=0")

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

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
