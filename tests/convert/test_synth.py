"""Corpus builder: layout, labels in both formats, manifest, disjoint splits, determinism."""

from __future__ import annotations

import hashlib
import json

import pytest

from convert.cli import main
from convert.labels import read_labels
from convert.recordings import read_recording
from convert.synth import SynthConfig, build_corpus, plan_corpus
from convert.taxonomy import LABELS

CFG = SynthConfig(minutes=0.5, sample_rate=8000, seed=3, file_s=5.0, files_per_subject=1)


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    manifest = build_corpus(out, CFG, workers=2, progress=False)
    return out, manifest


def test_layout_and_labels(corpus):
    out, m = corpus
    assert len(m["files"]) == 6
    for f in m["files"]:
        wav = out / f["path"]
        rec = read_recording(wav)
        assert rec.sample_rate == 8000 and rec.uv_per_lsb == pytest.approx(m["uv_per_lsb"])
        assert rec.duration_s == pytest.approx(f["duration_s"])
        csv, txt = read_labels(wav.with_suffix(".csv")), read_labels(wav.with_suffix(".txt"))
        assert csv.segments == txt.segments and csv.events == txt.events
        planned = {label for label, _ in f["plan"] if label != "rest"}
        assert {s.label for s in csv.segments} <= planned
        assert planned - {"endplate_noise"} <= {label for _, label in csv.events} | {"rest"}


def test_manifest_splits_disjoint_and_counts(corpus):
    out, m = corpus
    assert json.loads((out / "manifest.json").read_text()) == m
    assert m["generator_version"] and m["config"]["seed"] == 3 and m["labels"] == list(LABELS)
    splits = m["splits"]
    assert all(splits[s]["files"] >= 1 for s in ("train", "val", "test"))
    for a in splits:
        for b in splits:
            if a < b:
                assert not set(splits[a]["subjects"]) & set(splits[b]["subjects"])
                assert not set(splits[a]["seeds"]) & set(splits[b]["seeds"])
                assert not set(splits[a]["subject_seeds"]) & set(splits[b]["subject_seeds"])
    total = sum(m["class_seconds"].values())
    assert total == pytest.approx(30.0, abs=0.01)
    # Balanced schedule: episode counts per class differ by at most one (shuffled rounds).
    n = {label: 0 for label in LABELS}
    for f in m["files"]:
        for label, _ in f["plan"]:
            n[label] += 1
    assert max(n.values()) - min(n.values()) <= 1, n


def test_independent_of_worker_count(corpus, tmp_path):
    out, _ = corpus
    build_corpus(tmp_path, CFG, workers=1, progress=False)
    assert _digest(tmp_path) == _digest(out)


def test_plan_deterministic_and_seed_dependent():
    assert plan_corpus(CFG) == plan_corpus(CFG)
    other = SynthConfig(minutes=0.5, sample_rate=8000, seed=4, file_s=5.0, files_per_subject=1)
    assert plan_corpus(other) != plan_corpus(CFG)


def test_cli_and_user_errors(tmp_path, capsys):
    out = tmp_path / "c"
    args = ["synth", "--out", str(out), "--minutes", "0.1", "--sample-rate", "8000", "--seed", "1",
            "--file-seconds", "6", "--quiet"]
    assert main(args) == 0
    assert (out / "manifest.json").is_file()
    assert main(args) == 2  # refuses to overwrite
    assert "--force" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0
    assert main(["synth", "--out", str(out), "--minutes", "1", "--sample-rate", "100"]) == 2
    assert "8000..48000" in capsys.readouterr().err
    assert main(["synth", "--out", str(out), "--minutes", "0"]) == 2
