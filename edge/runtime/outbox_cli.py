"""``emg-edge outbox check|salvage FILE``: look at an alert outbox, recover a damaged one.

    emg-edge outbox check /var/lib/emg-edge/outbox.sqlite
    sudo systemctl stop emg-edge && emg-edge outbox salvage /var/lib/emg-edge/outbox.sqlite

``check`` reads the file without changing it (also while the service runs) and prints its
alerts, how many wait for delivery, its last id and what is wrong; exit 0 when it is sound,
1 when it is damaged. ``salvage`` (the service stopped: it refuses a file in use) reads every
row it can, one by one where the table is damaged, moves the file aside to
``FILE.damaged-<UTC time>`` (with its ``-wal``/``-shm``), writes a new outbox at ``FILE`` with
every readable alert (same ids, same delivered and written marks) and writes the rows that do
not parse to ``FILE.damaged-<UTC time>.unreadable.txt``. Ids are never reused: the new
counter continues after the old one, or, when that is unreadable, :data:`ID_SKIP` after the
highest id read (the unit drops an alert whose id it has seen).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from clikit import EXIT_FAILURE, EXIT_OK, UserError

from edge.runtime.outbox import ROW_COLUMNS, Outbox, OutboxError, lock_file, parse_body

#: Ids skipped when the old counter cannot be read (more than the unit and link remember).
ID_SKIP = 65536
_DEFAULTS = {"created": 0.0, "sunk": 0, "delivered": 0, "delivered_at": None, "attempts": 0, "needs_ack": 1}


@dataclass
class Recovered:
    """What could be read from an outbox file."""

    rows: list[tuple] = field(default_factory=list)  # readable alerts, ROW_COLUMNS values
    unreadable: list[str] = field(default_factory=list)  # "id: body" of rows that do not parse
    problems: list[str] = field(default_factory=list)
    counter: int | None = None  # the id counter (sqlite_sequence), None when unreadable

    @property
    def last_id(self) -> int:
        """The id the new counter continues after."""
        top = max([r[0] for r in self.rows] + [0])
        return max(self.counter, top) if self.counter is not None else top + (ID_SKIP if self.problems else 0)


def _q(db: sqlite3.Connection, sql: str, args: tuple = ()) -> list[tuple]:
    return db.execute(sql, args).fetchall()


def read_outbox(path: Path, readonly: bool = True) -> Recovered:
    """Every readable row of the outbox at ``path`` (damage becomes ``problems``); ``readonly``
    False lets SQLite replay a write-ahead log left by a killed process (the file is locked)."""
    out = Recovered()
    try:
        db = sqlite3.connect(f"file:{path}?mode={'ro' if readonly else 'rw'}", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        out.problems.append(f"cannot be opened ({exc})")
        return out
    try:
        try:
            out.problems += [r[0] for r in _q(db, "PRAGMA quick_check") if r[0] != "ok"]
            have = [r[1] for r in _q(db, "PRAGMA table_info(alerts)")]
        except sqlite3.DatabaseError as exc:
            out.problems.append(f"not a readable SQLite outbox ({exc})")
            return out
        if "id" not in have or "body" not in have:
            out.problems.append("no alerts table")
            return out
        try:
            row = _q(db, "SELECT seq FROM sqlite_sequence WHERE name='alerts'")
            out.counter = int(row[0][0]) if row else 0
        except (sqlite3.DatabaseError, TypeError, ValueError) as exc:
            out.problems.append(f"id counter unreadable ({exc})")
        cols = ", ".join(c if c in have else "NULL" for c in ROW_COLUMNS)
        try:
            raw = _q(db, f"SELECT {cols} FROM alerts ORDER BY id")
        except sqlite3.DatabaseError as exc:
            out.problems.append(f"alerts table damaged ({exc}); read row by row")
            raw = _row_by_row(db, cols, out)
        for r in raw:
            vals = [r[i] if r[i] is not None or c == "delivered_at" else _DEFAULTS[c]
                    for i, c in enumerate(ROW_COLUMNS)]
            try:
                ok = isinstance(r[2], str) and parse_body(r[2]).id == r[0]
            except (ValueError, TypeError):
                ok = False
            if ok:
                out.rows.append(tuple(vals))
            else:
                out.unreadable.append(f"{r[0]}: {r[2]!r}")
                out.problems.append(f"alert {r[0]} does not parse")
    finally:
        db.close()
    return out


def _row_by_row(db: sqlite3.Connection, cols: str, out: Recovered) -> list[tuple]:
    """Rows read one id at a time, skipping what SQLite cannot read."""
    top = out.counter or 0
    for sql in ("SELECT max(id) FROM alerts", "SELECT id FROM alerts ORDER BY id DESC LIMIT 1"):
        try:
            top = max(top, int(_q(db, sql)[0][0] or 0))
        except (sqlite3.DatabaseError, IndexError, TypeError):
            pass
    rows = []
    for alert_id in range(1, top + 1):
        try:
            rows += _q(db, f"SELECT {cols} FROM alerts WHERE id=?", (alert_id,))
        except sqlite3.DatabaseError:
            out.problems.append(f"alert {alert_id} unreadable")
    return rows


def salvage(path: Path) -> tuple[Recovered, Path]:
    """Recover ``path`` in place (see the module docstring); returns what was read and where
    the damaged file went."""
    fd = lock_file(path)  # OutboxError while a service uses it
    try:
        found = read_outbox(path, readonly=False)
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        if found.unreadable:
            Path(str(aside) + ".unreadable.txt").write_text("\n".join(found.unreadable) + "\n", encoding="utf-8")
    finally:
        os.close(fd)
    new = Outbox(path)
    try:
        new.import_rows(found.rows, found.last_id)
    finally:
        new.close()
    return found, aside


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("outbox", help="check an alert outbox, or salvage a damaged one",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("check", "salvage"))
    p.add_argument("file", metavar="FILE", help="the outbox (SQLite), e.g. /var/lib/emg-edge/outbox.sqlite")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise FileNotFoundError(f"no outbox file {path}")
    if args.action == "check":
        found = read_outbox(path)
        pending = sum(1 for r in found.rows if not r[4])
        unwritten = sum(1 for r in found.rows if not r[3])
        print(f"outbox {path}: {'damaged' if found.problems else 'sound'}; {len(found.rows)} readable alert(s), "
              f"{pending} waiting for delivery, {unwritten} not yet written to the outputs; last id "
              f"{found.counter if found.counter is not None else 'unreadable'}")
        for problem in found.problems:
            print(f"  problem: {problem}")
        if found.problems:
            print(f"  recover with: emg-edge outbox salvage {path}  (with the service stopped)")
        return EXIT_FAILURE if found.problems else EXIT_OK
    try:
        found, aside = salvage(path)
    except OutboxError as exc:
        raise UserError(str(exc)) from None
    print(f"outbox {path}: kept {len(found.rows)} alert(s) ({sum(1 for r in found.rows if not r[4])} waiting for "
          f"delivery), {len(found.unreadable)} unreadable; ids continue after {found.last_id}; the old file is "
          f"{aside}" + (f" (unreadable rows in {aside}.unreadable.txt)" if found.unreadable else ""))
    return EXIT_OK
