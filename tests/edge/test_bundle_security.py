"""Bundle authenticity: pinned shipped bundles, Ed25519 signatures against a trust store,
unambiguous names, symlinks, labels the wire cannot carry and manifest values of the wrong type."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from convert import sign as sign_cmd
from convert.cli import main as convert_main
from edge import bundle as B
from edge import signature as sig
from edge.bundle import BundleError, load_bundle

COPY = ("manifest.json", "model.tflite", "open_set.json", "weights.npz", "model_float.tflite")


@pytest.fixture(autouse=True)
def _no_ambient_store(monkeypatch):
    monkeypatch.delenv(sig.TRUST_ENV, raising=False)
    monkeypatch.setattr(sig, "DEFAULT_TRUST_DIR", sig.Path("/nonexistent/emg-edge/trusted-keys"))


@pytest.fixture
def bundle_dir(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    for name in COPY:
        shutil.copyfile(B.SHIPPED_DIR / "default" / name, d / name)
    return d


def _edit_manifest(d, **changes):
    m = json.loads((d / "manifest.json").read_text())
    m.update(changes)
    (d / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")


@pytest.fixture
def keys(tmp_path):
    store = tmp_path / "trusted"
    store.mkdir()
    kid = sign_cmd.keygen(tmp_path / "keys" / "site")
    shutil.copyfile(tmp_path / "keys" / "site.pub", store / "site.pub")
    return {"store": store, "pem": tmp_path / "keys" / "site.pem", "kid": kid}


def test_shipped_default_is_pinned_and_loads_without_keys():
    b = load_bundle("default")
    assert b.provenance == "shipped (pinned manifest digest)"
    assert set(B.read_pins()) >= {p.name for p in B.SHIPPED_DIR.iterdir() if p.is_dir()}


def test_shipped_bundle_with_a_changed_manifest_is_refused(tmp_path, monkeypatch, bundle_dir):
    shipped = tmp_path / "pkg_bundles"
    shipped.mkdir()
    shutil.copytree(bundle_dir, shipped / "default")
    shutil.copyfile(B.PINS_FILE, shipped / "pins.json")
    monkeypatch.setattr(B, "SHIPPED_DIR", shipped)
    monkeypatch.setattr(B, "PINS_FILE", shipped / "pins.json")
    assert load_bundle("default").provenance.startswith("shipped")
    _edit_manifest(shipped / "default", pathological=[])  # silence every alert
    with pytest.raises(BundleError, match="was modified"):
        load_bundle("default")


def test_a_folder_named_default_in_the_working_directory_is_not_loaded(tmp_path, monkeypatch, bundle_dir):
    fake = tmp_path / "default"
    shutil.copytree(bundle_dir, fake)
    _edit_manifest(fake, model_id="hijack")
    monkeypatch.chdir(tmp_path)
    assert load_bundle("default").model_id != "hijack"
    assert load_bundle("./default").model_id == "hijack"
    (tmp_path / "mine").mkdir()
    with pytest.raises(BundleError, match=r"\./mine"):
        load_bundle("mine")


def test_signed_bundle_loads_and_names_its_key(bundle_dir, keys):
    assert sign_cmd.sign(bundle_dir, keys["pem"]) == keys["kid"]
    b = load_bundle(bundle_dir, trusted_keys=keys["store"])
    assert b.provenance == f"signed by key {keys['kid']} (site.pub)"


@pytest.mark.parametrize("tamper", [
    {"pathological": []},
    {"labels": None},  # permuted below
])
def test_tampered_manifest_is_refused(bundle_dir, keys, tamper):
    sign_cmd.sign(bundle_dir, keys["pem"])
    m = json.loads((bundle_dir / "manifest.json").read_text())
    if tamper.get("labels", 0) is None:
        tamper = {"labels": list(reversed(m["labels"]))}
    _edit_manifest(bundle_dir, **tamper)
    with pytest.raises(BundleError, match="does not match the manifest"):
        load_bundle(bundle_dir, trusted_keys=keys["store"])


def test_replaced_model_with_updated_hash_is_refused(bundle_dir, keys):
    sign_cmd.sign(bundle_dir, keys["pem"])
    (bundle_dir / "model.tflite").write_bytes(b"\x00" * 64)
    m = json.loads((bundle_dir / "manifest.json").read_text())
    m["files"]["model.tflite"]["sha256"] = B.sha256_file(bundle_dir / "model.tflite")
    (bundle_dir / "manifest.json").write_text(json.dumps(m, indent=2))
    with pytest.raises(BundleError, match="refused"):
        load_bundle(bundle_dir, trusted_keys=keys["store"])


def test_unsigned_and_foreign_signed_bundles_are_refused_with_a_store(bundle_dir, keys, tmp_path):
    with pytest.raises(BundleError, match="not signed"):
        load_bundle(bundle_dir, trusted_keys=keys["store"])
    other = sign_cmd.keygen(tmp_path / "other" / "k")
    sign_cmd.sign(bundle_dir, tmp_path / "other" / "k.pem")
    with pytest.raises(BundleError, match=f"key {other}, which is not in the trust store"):
        load_bundle(bundle_dir, trusted_keys=keys["store"])


def test_store_from_the_environment(bundle_dir, keys, monkeypatch):
    monkeypatch.setenv(sig.TRUST_ENV, str(keys["store"]))
    with pytest.raises(BundleError, match="not signed"):
        load_bundle(bundle_dir)
    sign_cmd.sign(bundle_dir, keys["pem"])
    assert load_bundle(bundle_dir).provenance.startswith("signed by key")


def test_unsigned_without_store_loads_and_says_so(bundle_dir):
    assert load_bundle(bundle_dir).provenance == "unsigned (no trust store configured)"


@pytest.mark.parametrize("content", ["", "not base64!!", "AAAA"])
def test_malformed_or_empty_store_is_an_error_not_a_bypass(bundle_dir, tmp_path, content):
    store = tmp_path / "bad"
    store.mkdir()
    if content:
        (store / "k.pub").write_text(content)
    with pytest.raises(BundleError, match="refused"):
        load_bundle(bundle_dir, trusted_keys=store)


def test_symlinked_model_is_refused(bundle_dir, tmp_path):
    outside = tmp_path / "elsewhere.tflite"
    shutil.move(bundle_dir / "model.tflite", outside)
    os.symlink(outside, bundle_dir / "model.tflite")
    with pytest.raises(BundleError, match="symbolic link"):
        load_bundle(bundle_dir)


def test_label_longer_than_the_wire_carries_is_refused_at_load(bundle_dir):
    m = json.loads((bundle_dir / "manifest.json").read_text())
    long = "x" * 65
    _edit_manifest(bundle_dir, labels=[long] + m["labels"][1:],
                   pathological=[p for p in m["pathological"] if p != m["labels"][0]])
    with pytest.raises(BundleError, match="65 bytes"):
        load_bundle(bundle_dir)


@pytest.mark.parametrize("key,value", [
    ("sample_rate", "44100"), ("min_sample_rate", 4000.5), ("pathological", "fibrillation"),
    ("window", []), ("model_id", 7), ("files", []), ("input", {"feature_to_int8": 3}),
])
def test_manifest_values_of_the_wrong_type_are_one_line_errors(bundle_dir, key, value):
    _edit_manifest(bundle_dir, **{key: value})
    with pytest.raises(BundleError, match=key.split(".")[0]):
        load_bundle(bundle_dir)


def test_cli_keygen_and_sign(tmp_path, bundle_dir, capsys):
    stem = tmp_path / "k" / "lab"
    assert convert_main(["keygen", "--out", str(stem)]) == 0
    assert (stem.with_suffix(".pem").stat().st_mode & 0o777) == 0o600
    assert convert_main(["keygen", "--out", str(stem)]) == 2  # never overwrites a key
    assert convert_main(["sign", str(bundle_dir), "--key", str(stem.with_suffix(".pem"))]) == 0
    assert (bundle_dir / sig.SIGNATURE_FILE).is_file()
    (bundle_dir / "open_set.json").write_text("{}")
    assert convert_main(["sign", str(bundle_dir), "--key", str(stem.with_suffix(".pem"))]) == 2
    assert "not signing" in capsys.readouterr().err


def test_emg_edge_run_refuses_an_unsigned_bundle_under_a_trust_store_and_logs_provenance(
        bundle_dir, keys, tmp_path, capsys):
    from edge.cli import main as edge_main
    from edge.demo.recording import DEMO_WAV

    if not DEMO_WAV.is_file():
        pytest.skip("demo recording not generated")
    wav = f"wav:{DEMO_WAV}"
    assert edge_main(["run", "--bundle", str(bundle_dir), "--source", wav, "--speed", "max",
                      "--trusted-keys", str(keys["store"])]) == 2
    err = capsys.readouterr().err
    assert "bundle refused" in err and "not signed" in err and "Traceback" not in err
    sign_cmd.sign(bundle_dir, keys["pem"])
    short = tmp_path / "short.wav"
    from convert.recordings import read_wav, write_wav
    import numpy as np
    x, rate, _ = read_wav(DEMO_WAV)
    write_wav(short, np.round(x[: rate * 3] * 32767).astype(np.int16), rate, uv_per_lsb=0.5)
    assert edge_main(["run", "--bundle", str(bundle_dir), "--source", f"wav:{short}", "--speed", "max",
                      "--trusted-keys", str(keys["store"])]) == 0
    assert f"signed by key {keys['kid']}" in capsys.readouterr().err
