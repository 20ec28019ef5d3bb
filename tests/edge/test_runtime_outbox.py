"""Durable outbox: store before delivery, ids never reused, undelivered survive a reopen."""

import json
import sqlite3

from edge.runtime.alerts import AlertRecord, JsonlSink
from edge.runtime.outbox import Outbox


def fields(label="fibrillation", onset=1000):
    return dict(label=label, pathological=True, confidence=0.8, onset_sample=onset, offset_sample=onset + 500,
                onset_s=onset / 1000, offset_s=(onset + 500) / 1000, detected_s=(onset + 500) / 1000,
                onset_wall="2026-01-01T00:00:00.000Z", offset_wall="2026-01-01T00:00:00.500Z",
                emitted_wall="2026-01-01T00:00:00.600Z", severity=2, model_id="m1", sample_rate=1000)


def crash(ob: Outbox) -> None:
    """End ``ob`` as kill -9 would: no clean close; the OS drops the process's flock."""
    ob._db.close()
    ob._unlock()


def test_store_assigns_increasing_ids_and_tracks_delivery(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite")
    a = ob.store(fields(onset=1))
    b = ob.store(fields(onset=2))
    assert (a.id, b.id) == (1, 2)
    assert [r.id for r in ob.undelivered()] == [1, 2]
    assert [r.id for r in ob.unsunk()] == [1, 2]
    ob.mark_sunk(1)
    assert ob.mark_delivered([1]) == 1
    assert ob.mark_delivered([1]) == 0  # a duplicate ACK changes nothing
    assert [r.id for r in ob.undelivered()] == [2]
    assert ob.pending_count() == 1
    assert ob.get(2) == b
    ob.close()


def test_undelivered_survive_reopen_and_ids_are_never_reused(tmp_path):
    path = tmp_path / "o.sqlite"
    ob = Outbox(path, keep_delivered=0)
    for i in range(3):
        ob.store(fields(onset=i))
    ob.mark_sunk(1)
    ob.mark_sunk(3)
    ob.mark_delivered([1, 3])  # keep_delivered=0 prunes them
    crash(ob)
    ob2 = Outbox(path)
    assert [r.id for r in ob2.undelivered()] == [2]
    assert [r.onset_sample for r in ob2.undelivered()] == [1]
    new = ob2.store(fields())
    assert new.id == 4  # AUTOINCREMENT: pruned ids 1 and 3 are not reused
    assert ob2.last_id() == 4
    ob2.close()


def test_outbox_uses_wal(tmp_path):
    path = tmp_path / "o.sqlite"
    Outbox(path).close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_pruning_keeps_the_newest_delivered(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite", keep_delivered=2)
    for i in range(6):
        r = ob.store(fields(onset=i))
        ob.mark_sunk(r.id)
    ob.mark_delivered([1, 2, 3, 4, 5])
    assert sorted(r.id for r in ob) == [4, 5, 6]  # 2 newest delivered + the undelivered one


def test_record_json_round_trip_and_frame(tmp_path):
    ob = Outbox()
    rec = ob.store(fields())
    back = AlertRecord.from_json(rec.to_json())
    assert back == rec
    d = json.loads(rec.to_json())
    for key in ("id", "label", "pathological", "confidence", "onset_s", "offset_s", "onset_sample",
                "offset_sample", "onset_wall", "severity", "model_id"):
        assert key in d
    frame = rec.to_frame()
    assert (frame.alert_id, frame.label, frame.onset, frame.offset, frame.severity) == (1, "fibrillation", 1000, 1500, 2)
    sink_path = tmp_path / "a.jsonl"
    sink = JsonlSink(sink_path)
    sink.on_alert(rec)
    sink.on_alert(rec)
    sink.close()
    lines = sink_path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["id"] == 1
