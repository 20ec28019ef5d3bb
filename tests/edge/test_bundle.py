"""Bundle loader: a valid bundle loads; every corruption is refused with a clear BundleError."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import edge.frontend as fe
from edge.bundle import MANIFEST, SCHEMA, SCHEMA_VERSION, BundleError, load_bundle, sha256_file


def _write_bundle(path: Path) -> Path:
    """A schema-valid bundle with placeholder model bytes (the loader only hashes them)."""
    path.mkdir(parents=True)
    (path / "model.tflite").write_bytes(b"int8 model bytes")
    (path / "model_float.tflite").write_bytes(b"float model bytes")
    cfg = fe.FrontendConfig(sample_rate=44100, window_ms=25.0, hop_ms=10.0, n_mels=64, fmin_hz=20.0,
                            fmax_hz=10000.0)
    manifest = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "model_id": "emg-cnn-test",
        "labels": ["rest", "fibrillation"], "pathological": ["fibrillation"],
        "frontend": {"spec_version": fe.SPEC_VERSION, "config": cfg.to_dict()},
        "window": {"window_s": 1.0, "hop_s": 0.25, "window_frames": 98, "hop_frames": 25},
        "sample_rate": 44100, "min_sample_rate": 4000,
        "input": {"feature_to_int8": {"offset": 0, "span": 1000, "mul": 16711, "shift": 16}},
        "output": {"scale": 1 / 256, "zero_point": -128},
        "files": {n: {"sha256": sha256_file(path / n)} for n in ("model.tflite", "model_float.tflite")},
    }
    (path / MANIFEST).write_text(json.dumps(manifest))
    return path


def _edit(path: Path, **changes) -> None:
    m = json.loads((path / MANIFEST).read_text())
    m.update(changes)
    (path / MANIFEST).write_text(json.dumps(m))


@pytest.fixture
def bundle_dir(tmp_path):
    return _write_bundle(tmp_path / "b")


def test_valid_bundle_loads(bundle_dir):
    b = load_bundle(bundle_dir)
    assert b.labels == ("rest", "fibrillation")
    assert b.pathological == {"fibrillation"}
    assert b.window_frames == 98 and b.hop_frames == 25
    assert b.sample_rate == 44100 and b.min_sample_rate == 4000
    assert b.frontend_config.n_mels == 64
    assert b.model_path == bundle_dir / "model.tflite"
    assert b.is_pathological(1) and not b.is_pathological("rest")


def test_refuses_bad_hash(bundle_dir):
    (bundle_dir / "model.tflite").write_bytes(b"tampered")
    with pytest.raises(BundleError, match="model.tflite is corrupted"):
        load_bundle(bundle_dir)


def test_refuses_missing_model(bundle_dir):
    (bundle_dir / "model_float.tflite").unlink()
    with pytest.raises(BundleError, match="model_float.tflite is missing"):
        load_bundle(bundle_dir)


def test_refuses_missing_manifest(bundle_dir):
    (bundle_dir / MANIFEST).unlink()
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_bundle(bundle_dir)


def test_refuses_invalid_json(bundle_dir):
    (bundle_dir / MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(bundle_dir)


def test_refuses_other_schema_version(bundle_dir):
    _edit(bundle_dir, schema_version=SCHEMA_VERSION + 1)
    with pytest.raises(BundleError, match="schema_version"):
        load_bundle(bundle_dir)


def test_refuses_foreign_schema(bundle_dir):
    _edit(bundle_dir, schema="something-else")
    with pytest.raises(BundleError, match="schema"):
        load_bundle(bundle_dir)


def test_refuses_missing_keys(bundle_dir):
    m = json.loads((bundle_dir / MANIFEST).read_text())
    del m["labels"]
    (bundle_dir / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(BundleError, match="lacks labels"):
        load_bundle(bundle_dir)


def test_refuses_frontend_spec_mismatch(bundle_dir):
    m = json.loads((bundle_dir / MANIFEST).read_text())
    m["frontend"]["spec_version"] = "not-" + str(fe.SPEC_VERSION)
    (bundle_dir / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(BundleError, match="front-end spec version"):
        load_bundle(bundle_dir)


def test_refuses_unknown_pathological_label(bundle_dir):
    _edit(bundle_dir, pathological=["fibrillation", "gremlins"])
    with pytest.raises(BundleError, match="gremlins"):
        load_bundle(bundle_dir)


def test_refuses_bad_rates(bundle_dir):
    _edit(bundle_dir, min_sample_rate=48000)
    with pytest.raises(BundleError, match="min_sample_rate"):
        load_bundle(bundle_dir)


def test_refuses_missing_directory(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(BundleError, match="not found"):
        load_bundle("no-such-shipped-bundle")


def test_refuses_a_file_instead_of_a_directory(tmp_path):
    f = tmp_path / "model.tflite"
    f.write_bytes(b"x")
    with pytest.raises(BundleError, match="not a directory"):
        load_bundle(f)


def test_bundle_error_is_a_one_line_message(bundle_dir):
    (bundle_dir / "model.tflite").write_bytes(b"tampered")
    with pytest.raises(BundleError) as info:
        load_bundle(bundle_dir)
    assert "\n" not in str(info.value)


def test_copy_of_a_bundle_still_loads(bundle_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle_dir, copy)
    assert load_bundle(copy).model_id == "emg-cnn-test"


def test_uv_per_lsb_read_from_manifest(bundle_dir):
    m = json.loads((bundle_dir / MANIFEST).read_text())
    m["input"]["uv_per_lsb"] = 0.25
    (bundle_dir / MANIFEST).write_text(json.dumps(m))
    b = load_bundle(bundle_dir)
    assert b.uv_per_lsb == 0.25 and not b.uv_per_lsb_assumed


def test_uv_per_lsb_defaults_for_old_bundles(bundle_dir):
    b = load_bundle(bundle_dir)  # manifest written without input.uv_per_lsb
    assert b.uv_per_lsb == 0.5 and b.uv_per_lsb_assumed


@pytest.mark.parametrize("bad", [0, -1, "0.5", None, True, 1e9, float("inf")])
def test_refuses_bad_uv_per_lsb(bundle_dir, bad):
    m = json.loads((bundle_dir / MANIFEST).read_text())
    m["input"]["uv_per_lsb"] = bad
    (bundle_dir / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(BundleError, match=r"input\.uv_per_lsb .* must be a number of µV per LSB in 0\.001\.\.1000"):
        load_bundle(bundle_dir)


def test_default_bundle_declares_its_scale():
    b = load_bundle("default")
    assert b.uv_per_lsb == 0.5 and not b.uv_per_lsb_assumed
