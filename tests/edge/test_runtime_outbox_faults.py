"""The outbox against faults (issue 14): a full disk, a damaged file, a second process, a run
without a link on a link's outbox; and ``emg-edge outbox check|salvage``."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main as edge_main
from edge.runtime.delivery import Delivery
from edge.runtime.outbox import Outbox, OutboxError, OutboxWriteError

from tests.edge.test_runtime_delivery import Channel, Recorder
from tests.edge.test_runtime_outbox import crash, fields

ROOT = Path(__file__).resolve().parents[2]


def fill_disk(ob: Outbox) -> None:
    """SQLite's own disk-full path: the file may not grow by another page."""
    pages = ob._db.execute("PRAGMA page_count").fetchone()[0]
    ob._db.execute(f"PRAGMA max_page_count={pages}")


def free_disk(ob: Outbox) -> None:
    ob._db.execute("PRAGMA max_page_count=1073741823")


def big(onset: int) -> dict:
    return dict(fields(onset=onset), model_id="m" * 3000)  # a row that needs new pages


def test_disk_full_holds_the_alert_in_memory_and_stores_it_later(tmp_path, caplog):
    rec, ch = Recorder(), Channel()
    d = Delivery(Outbox(tmp_path / "o.sqlite"), [rec])
    d.connect(ch)
    first = d.publish(big(1))
    fill_disk(d.outbox)
    with caplog.at_level(logging.WARNING, logger="emg-edge"):
        held = [d.publish(big(k)) for k in (2, 3, 4)]
    assert held == [None, None, None]  # not committed: not handed out, no id given
    assert "database or disk is full" in caplog.text and "held in memory" in caplog.text
    assert d.pending == 4 and [f.alert_id for f in ch.sent] == [first.id]
    d.poll()  # still full: nothing changes, nothing raised
    assert d.pending == 4
    free_disk(d.outbox)
    d._retry_at = 0.0  # the retry is due (RETRY_S after the failure)
    d.poll()
    assert [f.alert_id for f in ch.sent] == [1, 2, 3, 4]  # in order, each once
    assert [r.onset_sample for r in rec.got] == [1, 2, 3, 4]
    assert [r.id for r in d.outbox.undelivered()] == [1, 2, 3, 4]
    d.close()


def test_a_full_disk_rolls_back_cleanly_and_raises_one_error(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite")
    ob.store(big(1))
    fill_disk(ob)
    with pytest.raises(OutboxWriteError, match="database or disk is full") as info:
        ob.store(big(2))
    assert info.value.__suppress_context__  # one error, not a chain ending in "cannot rollback"
    assert not ob._db.in_transaction
    free_disk(ob)
    assert ob.store(big(3)).id == 2  # the failed insert used no id
    ob.close()


def test_acks_marks_that_fail_are_kept_and_retried(tmp_path):
    ch = Channel()
    d = Delivery(Outbox(tmp_path / "o.sqlite", keep_delivered=0), [])
    d.connect(ch)
    a = d.publish(big(1))
    fill_disk(d.outbox)
    d.outbox._db.execute("PRAGMA max_page_count=1")  # even an UPDATE in the WAL fails now
    ch.ack = [a.id]
    d.poll()
    free_disk(d.outbox)
    d.poll()
    assert d.pending == 0
    d.close()


def test_a_second_process_on_the_outbox_is_refused_in_one_line(tmp_path):
    path = tmp_path / "o.sqlite"
    ob = Outbox(path)
    ob.store(fields())
    code = ("import sys; from edge.runtime.outbox import Outbox, OutboxError\n"
            "try:\n    Outbox(sys.argv[1])\nexcept OutboxError as e:\n    print(e); sys.exit(2)\n")
    p = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "in use by another process" in p.stdout
    assert ob.pending_count() == 1  # untouched
    ob.close()
    Outbox(path).close()  # free again once the first one closed


def test_a_run_without_a_link_never_delivers_what_waits_for_the_amplifier(tmp_path, caplog):
    path = tmp_path / "o.sqlite"
    linked = Delivery(Outbox(path), [])
    linked.connect(Channel())
    waiting = linked.publish(fields(onset=1))  # sent, never ACKed
    linked.close()
    local = Delivery(Outbox(path), [Recorder()])
    local.connect(None)
    with caplog.at_level(logging.WARNING, logger="emg-edge"):
        local.resend_pending()
    own = local.publish(fields(onset=2))
    assert "1 alert(s) wait for the amplifier's ACK" in caplog.text
    assert [r.id for r in local.outbox.undelivered()] == [waiting.id]  # its own one delivered
    assert own.id == waiting.id + 1
    local.close()
    ch = Channel()
    again = Delivery(Outbox(path), [])
    again.connect(ch)
    again.resend_pending()
    assert [f.alert_id for f in ch.sent] == [waiting.id]
    again.close()


def damage_row(path: Path, alert_id: int, body: str = "{not json") -> None:
    con = sqlite3.connect(path)
    con.execute("UPDATE alerts SET body=? WHERE id=?", (body, alert_id))
    con.commit()
    con.close()


def test_a_damaged_row_is_refused_at_open_with_the_recovery_command(tmp_path):
    path = tmp_path / "o.sqlite"
    ob = Outbox(path)
    for k in range(3):
        ob.store(fields(onset=k))
    ob.close()
    damage_row(path, 2)
    with pytest.raises(OutboxError, match=r"damaged: alert 2 does not parse .*emg-edge outbox salvage"):
        Outbox(path)
    Outbox(tmp_path / "other.sqlite").close()


def test_the_cli_refuses_a_damaged_outbox_in_one_line_then_salvage_keeps_every_readable_alert(tmp_path, capsys):
    path = tmp_path / "o.sqlite"
    ob = Outbox(path)
    for k in range(4):
        r = ob.store(fields(onset=k))
        if r.id == 1:
            ob.mark_sunk(1)
            ob.mark_delivered([1])
    crash(ob)  # as after kill -9: the WAL is not checkpointed
    damage_row(path, 3)
    assert edge_main(["run", "--bundle", "default", "--source", "wav:nothing.wav", "--outbox", str(path),
                      "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "emg-edge outbox salvage" in err and "Traceback" not in err

    assert edge_main(["outbox", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "damaged" in out and "alert 3 does not parse" in out

    assert edge_main(["outbox", "salvage", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kept 3 alert(s) (2 waiting for delivery), 1 unreadable" in out
    assert edge_main(["outbox", "check", str(path)]) == 0
    fixed = Outbox(path)
    assert [r.id for r in fixed] == [1, 2, 4] and [r.id for r in fixed.undelivered()] == [2, 4]
    assert fixed.store(fields()).id == 5  # ids continue: none reused
    fixed.close()
    aside = list(tmp_path.glob("o.sqlite.damaged-*.unreadable.txt"))
    assert len(aside) == 1 and aside[0].read_text().startswith("3: ")


def test_salvage_of_a_file_that_is_not_sqlite_skips_ids(tmp_path, capsys):
    path = tmp_path / "o.sqlite"
    path.write_bytes(b"\x00garbage" * 1000)
    assert edge_main(["outbox", "salvage", str(path)]) == 0
    ob = Outbox(path)
    assert ob.store(fields()).id == 65537  # the old counter is unknown: no id the unit saw comes back
    ob.close()


def test_salvage_refuses_an_outbox_in_use(tmp_path, capsys):
    path = tmp_path / "o.sqlite"
    ob = Outbox(path)
    assert edge_main(["outbox", "salvage", str(path)]) == 2
    assert "in use" in capsys.readouterr().err
    ob.close()


def test_a_service_that_fails_to_start_frees_the_outbox(tmp_path):
    from edge.runtime.service import RuntimeOptions, Service

    from tests.edge.runtime_standins import ThresholdClassifier, standin_bundle

    path = tmp_path / "o.sqlite"
    with pytest.raises(FileNotFoundError):
        Service(RuntimeOptions(bundle=standin_bundle(8000), classifier=ThresholdClassifier(), outbox=str(path),
                               alerts_jsonl=str(tmp_path / "missing" / "a.jsonl")))
    Outbox(path).close()  # not left locked by the failed start
