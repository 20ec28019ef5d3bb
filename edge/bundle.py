"""Model bundles: a directory with an int8 model, its float twin and a manifest.

A bundle is what ``convert`` hands to the device::

    <bundle>/model.tflite         full-int8 LiteRT model (int8 input and output)
    <bundle>/model_float.tflite   the same network in float32 (to measure quantisation loss)
    <bundle>/manifest.json        everything needed to run it (schema below)
    <bundle>/MODEL_CARD.md        optional, human-readable

:func:`load_bundle` validates the manifest schema, every listed file's SHA-256 and the
front-end spec version, and refuses a mismatch with a :class:`BundleError` whose message says
what is wrong and what to do. ``load_bundle("default")`` finds the bundle shipped in
``edge/bundles/default``.

Manifest (``schema == "emg-edge-bundle"``, ``schema_version == 1``), keys the loader needs:
``model_id``, ``labels`` (class index order), ``pathological`` (subset of labels),
``frontend.spec_version`` and ``frontend.config`` (:class:`edge.frontend.FrontendConfig` dict),
``window`` (``window_s``, ``hop_s``, ``window_frames``, ``hop_frames``), ``sample_rate`` and
``min_sample_rate`` (Hz), ``input.feature_to_int8`` (the integer rule of
:class:`edge.inference.FeatureQuantizer`), ``input``/``output`` int8 quantisation
(``scale``, ``zero_point``) and ``files`` (name → ``sha256``, ``bytes``).

``input.uv_per_lsb`` (optional): µV at the electrode per LSB of the int16 samples the model's
features were computed at; the runtime calibrates every source to it (:mod:`edge.calibration`).
Bundles written before the key existed are read as :data:`LEGACY_UV_PER_LSB` (0.5 µV/LSB, the
simulator amplifier's default, which they were trained at) with ``uv_per_lsb_assumed`` set.
The manifest itself is not hashed (``files`` are), so the key can be added to an old bundle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = "emg-edge-bundle"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
MODEL_INT8 = "model.tflite"
MODEL_FLOAT = "model_float.tflite"
#: Directory of bundles shipped inside the package (``load_bundle("default")``).
SHIPPED_DIR = Path(__file__).resolve().parent / "bundles"
#: µV per LSB assumed for bundles whose manifest has no ``input.uv_per_lsb`` (the simulator
#: amplifier's default, convert/simulator/amplifier.py, which such bundles were trained at).
LEGACY_UV_PER_LSB = 0.5

log = logging.getLogger("emg-edge")

_REQUIRED = ("model_id", "labels", "pathological", "frontend", "window", "sample_rate",
             "min_sample_rate", "input", "output", "files")


class BundleError(Exception):
    """A bundle is missing, corrupted or does not fit this runtime (message says which)."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A validated bundle. Rates in Hz; window and hop in front-end frames."""

    path: Path
    manifest: dict
    labels: tuple[str, ...]
    pathological: frozenset[str]
    frontend_config: Any  # edge.frontend.FrontendConfig
    window_frames: int
    hop_frames: int
    sample_rate: int
    min_sample_rate: int
    model_id: str
    #: µV per LSB of the int16 samples the features assume (manifest ``input.uv_per_lsb``).
    uv_per_lsb: float = LEGACY_UV_PER_LSB
    #: True when the manifest predates ``input.uv_per_lsb`` and :data:`LEGACY_UV_PER_LSB` is used.
    uv_per_lsb_assumed: bool = False

    @property
    def model_path(self) -> Path:
        """The int8 model the device runs."""
        return self.path / MODEL_INT8

    @property
    def model_float_path(self) -> Path:
        """The float32 twin (evaluation only)."""
        return self.path / MODEL_FLOAT

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def window_s(self) -> float:
        return float(self.manifest["window"]["window_s"])

    @property
    def hop_s(self) -> float:
        return float(self.manifest["window"]["hop_s"])

    @property
    def window_span_samples(self) -> int:
        """Samples (at ``sample_rate``) one analysis window covers: its first frame's start to
        its last frame's end, (window_frames − 1)·hop + frame length (1.015 s at 44.1 kHz)."""
        fc = self.frontend_config
        return (self.window_frames - 1) * fc.hop_length + fc.frame_length

    def is_pathological(self, label_or_index: str | int) -> bool:
        label = self.labels[label_or_index] if isinstance(label_or_index, int) else label_or_index
        return label in self.pathological


def resolve_bundle_path(name_or_path: str | Path) -> Path:
    """``"default"`` (or any shipped name) → ``edge/bundles/<name>``; otherwise a directory path."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if not path.exists() and "/" not in text and "\\" not in text and (SHIPPED_DIR / text).is_dir():
        return SHIPPED_DIR / text
    if not path.exists():
        shipped = sorted(p.name for p in SHIPPED_DIR.iterdir() if p.is_dir()) if SHIPPED_DIR.is_dir() else []
        raise BundleError(
            f"bundle {text!r} not found: give a bundle directory or one of the shipped bundles "
            f"({', '.join(shipped) or 'none installed'})"
        )
    if not path.is_dir():
        raise BundleError(f"bundle {text!r} is not a directory (a bundle is a directory with {MANIFEST})")
    return path


def read_manifest(path: Path) -> dict:
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"bundle {path}: {MANIFEST} is missing")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"bundle {path}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {path}: {MANIFEST} must hold a JSON object")
    return manifest


def _check_schema(path: Path, m: dict) -> None:
    if m.get("schema") != SCHEMA:
        raise BundleError(f"bundle {path}: manifest schema is {m.get('schema')!r}, expected {SCHEMA!r}")
    version = m.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BundleError(
            f"bundle {path}: manifest schema_version {version!r} is not supported by this runtime "
            f"(supports {SCHEMA_VERSION}); rebuild the bundle with a matching kit or upgrade the runtime"
        )
    missing = [k for k in _REQUIRED if k not in m]
    if missing:
        raise BundleError(f"bundle {path}: manifest lacks {', '.join(missing)}")
    labels = m["labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise BundleError(f"bundle {path}: manifest labels must be a non-empty list of names")
    extra = set(m["pathological"]) - set(labels)
    if extra:
        raise BundleError(f"bundle {path}: pathological labels {sorted(extra)} are not among the labels")
    for key in ("window_frames", "hop_frames"):
        v = m["window"].get(key)
        if not isinstance(v, int) or v < 1:
            raise BundleError(f"bundle {path}: window.{key} must be a positive integer, got {v!r}")
    if not (0 < int(m["min_sample_rate"]) <= int(m["sample_rate"])):
        raise BundleError(
            f"bundle {path}: min_sample_rate {m['min_sample_rate']} must be in (0, sample_rate {m['sample_rate']}]"
        )
    if MODEL_INT8 not in m["files"]:
        raise BundleError(f"bundle {path}: manifest files do not list {MODEL_INT8}")


def _check_files(path: Path, m: dict) -> None:
    for name, info in m["files"].items():
        fpath = path / name
        if Path(name).name != name:
            raise BundleError(f"bundle {path}: file name {name!r} must not contain a directory")
        if not fpath.is_file():
            raise BundleError(f"bundle {path}: {name} is missing")
        digest = sha256_file(fpath)
        if digest != info.get("sha256"):
            raise BundleError(
                f"bundle {path}: {name} is corrupted or was replaced: sha256 {digest[:16]}… does not match "
                f"the manifest's {str(info.get('sha256'))[:16]}…"
            )


def _frontend_config(path: Path, m: dict):
    import importlib

    frontend = importlib.import_module("edge.frontend")  # local: schema tools need no front-end

    fe = m["frontend"]
    spec = fe.get("spec_version")
    if spec != frontend.SPEC_VERSION:
        raise BundleError(
            f"bundle {path}: trained on front-end spec version {spec!r} but this runtime computes "
            f"{frontend.SPEC_VERSION!r}; the features would not match — retrain or use a matching runtime"
        )
    try:
        return frontend.FrontendConfig.from_dict(fe["config"])
    except (TypeError, ValueError, KeyError) as exc:
        raise BundleError(f"bundle {path}: invalid front-end config ({exc})") from None


def _uv_per_lsb(path: Path, m: dict) -> tuple[float, bool]:
    from edge.calibration import MAX_UV_PER_LSB, MIN_UV_PER_LSB

    inp = m["input"] if isinstance(m["input"], dict) else {}
    if "uv_per_lsb" not in inp:
        log.info("bundle %s: manifest has no input.uv_per_lsb (written before calibration): assuming %g µV/LSB",
                 path, LEGACY_UV_PER_LSB)
        return LEGACY_UV_PER_LSB, True
    v = inp["uv_per_lsb"]
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if not (ok and MIN_UV_PER_LSB <= v <= MAX_UV_PER_LSB):
        raise BundleError(
            f"bundle {path}: input.uv_per_lsb {v!r} must be a number of µV per LSB in "
            f"{MIN_UV_PER_LSB:g}..{MAX_UV_PER_LSB:g}; fix the manifest or re-export the bundle"
        )
    return float(v), False


def load_bundle(name_or_path: str | Path = "default", verify_hash: bool = True) -> Bundle:
    """Load and validate a bundle directory (or a shipped bundle by name).

    Raises :class:`BundleError` for a missing directory or file, a manifest of another schema
    or version, a file whose SHA-256 differs from the manifest, a front-end spec version
    other than this runtime's, or an ``input.uv_per_lsb`` that is not a sane µV/LSB.
    """
    path = resolve_bundle_path(name_or_path)
    m = read_manifest(path)
    _check_schema(path, m)
    if verify_hash:
        _check_files(path, m)
    cfg = _frontend_config(path, m)
    if int(m["sample_rate"]) != int(cfg.sample_rate):
        raise BundleError(
            f"bundle {path}: sample_rate {m['sample_rate']} differs from its front-end's {cfg.sample_rate}"
        )
    uv, assumed = _uv_per_lsb(path, m)
    return Bundle(
        path=path,
        manifest=m,
        labels=tuple(m["labels"]),
        pathological=frozenset(m["pathological"]),
        frontend_config=cfg,
        window_frames=int(m["window"]["window_frames"]),
        hop_frames=int(m["window"]["hop_frames"]),
        sample_rate=int(m["sample_rate"]),
        min_sample_rate=int(m["min_sample_rate"]),
        model_id=str(m["model_id"]),
        uv_per_lsb=uv,
        uv_per_lsb_assumed=assumed,
    )
