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

``decision_prior`` (optional): ``{"weights": {label: factor}}``, the class prior the window
call uses (:mod:`edge.runtime.prior`); absent, every class keeps 1. Like ``uv_per_lsb`` it may
be added to an existing bundle (the manifest is not among the hashed files).

``input.uv_per_lsb`` (optional): µV at the electrode per LSB of the int16 samples the model's
features were computed at; the runtime calibrates every source to it (:mod:`edge.calibration`).
Bundles written before the key existed are read as :data:`LEGACY_UV_PER_LSB` (0.5 µV/LSB, the
simulator amplifier's default, which they were trained at) with ``uv_per_lsb_assumed`` set.
The manifest itself is not hashed (``files`` are), so the key can be added to an old bundle.

Authenticity (``docs/SECURITY.md``): a shipped bundle (``load_bundle("default")``) is
verified by the SHA-256 of its manifest, pinned in the package (``edge/bundles/pins.json``);
any other bundle, when a trust store of public keys is configured (:mod:`edge.signature`),
must carry a ``manifest.sig`` by one of those keys. Listed files must be regular files inside
the bundle (no symlinks). :attr:`Bundle.provenance` says which check passed; the runtime logs
it at start-up.

Names: a bare name (no path separator) always means a shipped bundle, never a folder in the
working directory; a folder is given as a path (``./mybundle``, ``out/bundle``).

Ensembles (``schema_version == 2``, written by ``emg-convert ensemble``): instead of
``model.tflite`` the manifest names its member models in ``models``, a list of 2..8 objects
``{"file", "float_file", "weight", "input": {"scale", "zero_point", "feature_to_int8"},
"output": {"scale", "zero_point"}}`` (files listed in ``files`` like any other). Every member
is a full-int8 model on the same front-end, window and labels; :mod:`edge.inference` runs
each and averages their dequantised probabilities with the weights (normalised to sum 1).
A runtime that only knows version 1 refuses such a bundle by its version, in one line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge import signature as sig
from firmware_bridge.codec.frames import MAX_LABEL_BYTES  # the ALERT frame's limit (PROTOCOL.md)

SCHEMA = "emg-edge-bundle"
SCHEMA_VERSION = 1
#: Manifest version of an ensemble bundle (``models`` instead of one ``model.tflite``).
ENSEMBLE_SCHEMA_VERSION = 2
SUPPORTED_SCHEMA_VERSIONS = (SCHEMA_VERSION, ENSEMBLE_SCHEMA_VERSION)
#: Members an ensemble may name (each one is an interpreter run per window).
MAX_MEMBERS = 8
MANIFEST = "manifest.json"
MODEL_INT8 = "model.tflite"
MODEL_FLOAT = "model_float.tflite"
#: Directory of bundles shipped inside the package (``load_bundle("default")``).
SHIPPED_DIR = Path(__file__).resolve().parent / "bundles"
#: µV per LSB assumed for bundles whose manifest has no ``input.uv_per_lsb`` (the simulator
#: amplifier's default, convert/simulator/amplifier.py, which such bundles were trained at).
LEGACY_UV_PER_LSB = 0.5
#: Manifest digests of the shipped bundles (name → sha256 of manifest.json).
PINS_FILE = SHIPPED_DIR / "pins.json"

log = logging.getLogger("emg-edge")

_REQUIRED = ("model_id", "labels", "pathological", "frontend", "window", "sample_rate",
             "min_sample_rate", "input", "output", "files")


class BundleError(Exception):
    """A bundle is missing, corrupted or does not fit this runtime (message says which)."""


@dataclass(frozen=True)
class ModelMember:
    """One int8 model of a bundle: its files, its weight in the posterior average (the
    weights of a bundle's members sum to 1) and its feature → int8 rule (manifest dict)."""

    path: Path
    float_path: Path
    weight: float
    feature_to_int8: dict


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
    #: How the bundle was authenticated, for the start-up log: "shipped (pinned manifest
    #: digest)", "signed by key <id> (<file>)" or "unsigned (no trust store configured)".
    provenance: str = "unchecked"

    @property
    def members(self) -> tuple[ModelMember, ...]:
        """The int8 models whose probabilities the device averages: one for a plain bundle
        (``model.tflite``, weight 1), the manifest's ``models`` for an ensemble."""
        specs = self.manifest.get("models")
        if not specs:
            return (ModelMember(self.path / MODEL_INT8, self.path / MODEL_FLOAT, 1.0,
                                self.manifest["input"]["feature_to_int8"]),)
        total = sum(float(s["weight"]) for s in specs)
        return tuple(ModelMember(self.path / s["file"], self.path / s["float_file"], float(s["weight"]) / total,
                                 s.get("input", {}).get("feature_to_int8", self.manifest["input"]["feature_to_int8"]))
                     for s in specs)

    @property
    def is_ensemble(self) -> bool:
        return bool(self.manifest.get("models"))

    @property
    def model_path(self) -> Path:
        """The int8 model the device runs (an ensemble's first member; see :attr:`members`)."""
        return self.members[0].path

    @property
    def model_float_path(self) -> Path:
        """The float32 twin (evaluation only; an ensemble's first member's)."""
        return self.members[0].float_path

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


def _shipped_names() -> list[str]:
    return sorted(p.name for p in SHIPPED_DIR.iterdir() if p.is_dir()) if SHIPPED_DIR.is_dir() else []


def is_bundle_name(text: str) -> bool:
    """A bare name (no path separator, not ``.``/``..``/``~…``) names a shipped bundle."""
    return bool(text) and "/" not in text and "\\" not in text and text not in (".", "..") \
        and not text.startswith("~")


def resolve_bundle_path(name_or_path: str | Path) -> Path:
    """A shipped name (``"default"``) → ``edge/bundles/<name>``; a path → that directory.

    A bare name is never looked up in the working directory, so a folder called ``default``
    there cannot stand in for the shipped bundle; give folders as paths (``./default``).
    """
    text = str(name_or_path)
    if isinstance(name_or_path, str) and is_bundle_name(text):
        if (SHIPPED_DIR / text).is_dir():
            return SHIPPED_DIR / text
        hint = f" (for the folder here: ./{text})" if Path(text).is_dir() else ""
        raise BundleError(
            f"bundle {text!r} not found among the shipped bundles ({', '.join(_shipped_names()) or 'none'}); "
            f"give a bundle directory as a path{hint}"
        )
    path = Path(text).expanduser()
    if not path.exists():
        raise BundleError(
            f"bundle {text!r} not found: give a bundle directory or one of the shipped bundles "
            f"({', '.join(_shipped_names()) or 'none installed'})"
        )
    if not path.is_dir():
        raise BundleError(f"bundle {text!r} is not a directory (a bundle is a directory with {MANIFEST})")
    return path


def read_manifest_bytes(path: Path) -> bytes:
    """The manifest's exact bytes (what is pinned and signed); refuses a symlinked manifest."""
    mpath = path / MANIFEST
    if mpath.is_symlink():
        raise BundleError(f"bundle {path}: {MANIFEST} is a symbolic link; bundle files must be regular files")
    if not mpath.is_file():
        raise BundleError(f"bundle {path}: {MANIFEST} is missing")
    return mpath.read_bytes()


def read_manifest(path: Path, data: bytes | None = None) -> dict:
    data = read_manifest_bytes(path) if data is None else data
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"bundle {path}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {path}: {MANIFEST} must hold a JSON object")
    return manifest


def _check_schema(path: Path, m: dict) -> None:
    if m.get("schema") != SCHEMA:
        raise BundleError(f"bundle {path}: manifest schema is {m.get('schema')!r}, expected {SCHEMA!r}")
    version = m.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS or isinstance(version, bool):
        raise BundleError(
            f"bundle {path}: manifest schema_version {version!r} is not supported by this runtime "
            f"(supports {', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))}); rebuild the bundle with a matching kit "
            "or upgrade the runtime"
        )
    missing = [k for k in _REQUIRED if k not in m]
    if missing:
        raise BundleError(f"bundle {path}: manifest lacks {', '.join(missing)}")
    labels = m["labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
        raise BundleError(f"bundle {path}: manifest labels must be a non-empty list of names")
    if len(set(labels)) != len(labels):
        raise BundleError(f"bundle {path}: manifest labels repeat a name")
    too_long = [x for x in labels if len(x.encode("utf-8")) > MAX_LABEL_BYTES]
    if too_long:
        # Checked here, not at the first alert: the wire's ALERT frame cannot carry it.
        raise BundleError(
            f"bundle {path}: label {too_long[0]!r} is {len(too_long[0].encode('utf-8'))} bytes; "
            f"the protocol carries labels of 1..{MAX_LABEL_BYTES} UTF-8 bytes"
        )
    _check_types(path, m)
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
    if version == ENSEMBLE_SCHEMA_VERSION:
        _check_members(path, m)
    elif "models" in m:
        raise BundleError(f"bundle {path}: manifest names models but has schema_version {version}; "
                          f"an ensemble is schema_version {ENSEMBLE_SCHEMA_VERSION}")
    elif MODEL_INT8 not in m["files"]:
        raise BundleError(f"bundle {path}: manifest files do not list {MODEL_INT8}")


def _check_members(path: Path, m: dict) -> None:
    """An ensemble's ``models`` list: 2..MAX_MEMBERS members, listed files, positive weights."""
    models = m.get("models")
    if not isinstance(models, list) or not 2 <= len(models) <= MAX_MEMBERS:
        raise BundleError(f"bundle {path}: manifest models must be a list of 2..{MAX_MEMBERS} member models "
                          f"(schema_version {ENSEMBLE_SCHEMA_VERSION})")
    for i, spec in enumerate(models):
        if not isinstance(spec, dict):
            raise BundleError(f"bundle {path}: manifest models[{i}] must be a JSON object")
        for key in ("file", "float_file"):
            if not isinstance(spec.get(key), str) or spec[key] not in m["files"]:
                raise BundleError(f"bundle {path}: manifest models[{i}].{key} {spec.get(key)!r} must name a file "
                                  "listed in files")
        w = spec.get("weight")
        if not _is_number(w) or not 0 < w <= 1000:
            raise BundleError(f"bundle {path}: manifest models[{i}].weight {w!r} must be a number in (0, 1000]")
        rule = spec.get("input", {}).get("feature_to_int8", {}) if isinstance(spec.get("input", {}), dict) else None
        if not isinstance(rule, dict):
            raise BundleError(f"bundle {path}: manifest models[{i}].input.feature_to_int8 must be a JSON object")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _check_types(path: Path, m: dict) -> None:
    """JSON types of the keys the loader reads: a wrong type is a one-line BundleError, not a
    TypeError deep in the runtime."""
    def bad(key: str, want: str) -> BundleError:
        return BundleError(f"bundle {path}: manifest {key} must be {want}")

    if not isinstance(m["model_id"], str) or not m["model_id"]:
        raise bad("model_id", "a non-empty string")
    if not isinstance(m["pathological"], list) or not all(isinstance(x, str) for x in m["pathological"]):
        raise bad("pathological", "a list of label names")
    for key in ("sample_rate", "min_sample_rate"):
        if not _is_int(m[key]) or not (1 <= m[key] <= 1_000_000):
            raise bad(key, "an integer number of Hz in 1..1000000")
    for key in ("frontend", "window", "input", "output"):
        if not isinstance(m[key], dict):
            raise bad(key, "a JSON object")
    for key in ("window_s", "hop_s"):
        if not _is_number(m["window"].get(key)) or m["window"][key] <= 0:
            raise bad(f"window.{key}", "a positive number of seconds")
    if not isinstance(m["input"].get("feature_to_int8"), dict):
        raise bad("input.feature_to_int8", "a JSON object (the feature quantiser)")
    if "decision_prior" in m:
        from edge.runtime.prior import check_weights  # numpy only (edge.runtime.__init__ imports nothing)

        if not isinstance(m["decision_prior"], dict):
            raise bad("decision_prior", 'a JSON object {"weights": {label: factor}}')
        try:
            check_weights(m["decision_prior"].get("weights", {}), m["labels"])
        except ValueError as e:
            raise BundleError(f"bundle {path}: manifest {e}") from None
    files = m["files"]
    if not isinstance(files, dict) or not all(isinstance(v, dict) and isinstance(v.get("sha256"), str)
                                              for v in files.values()):
        raise bad("files", 'an object of name → {"sha256": hex, "bytes": n}')


def _check_files(path: Path, m: dict) -> None:
    root = path.resolve()
    for name, info in m["files"].items():
        fpath = path / name
        if Path(name).name != name or name in (".", ".."):
            raise BundleError(f"bundle {path}: file name {name!r} must not contain a directory")
        if fpath.is_symlink() or (fpath.exists() and fpath.resolve().parent != root):
            raise BundleError(f"bundle {path}: {name} is a symbolic link or lies outside the bundle; "
                              "bundle files must be regular files inside it")
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


def read_pins() -> dict[str, str]:
    """Pinned manifest digests of the shipped bundles (name → sha256 hex)."""
    try:
        pins = json.loads(PINS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in pins.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(pins, dict) else {}


def _authenticate(path: Path, data: bytes, trusted_keys: str | Path | None) -> tuple[str, bool]:
    """``(provenance, vouched)`` of an authentic bundle, ``vouched`` when a pin or a trusted
    signature covers its manifest (whose hashes then must hold); BundleError otherwise (see
    the module docstring)."""
    if path.resolve().parent == SHIPPED_DIR.resolve():
        pin = read_pins().get(path.name)
        digest = hashlib.sha256(data).hexdigest()
        if pin is None:
            raise BundleError(f"shipped bundle {path.name!r} has no pinned digest in {PINS_FILE.name}; "
                              "reinstall the package")
        if digest != pin:
            raise BundleError(f"shipped bundle {path.name!r} was modified: manifest sha256 {digest[:16]}… "
                              f"is not the pinned {pin[:16]}…; reinstall the package")
        return "shipped (pinned manifest digest)", True
    store = sig.trust_dir(trusted_keys)
    try:
        signed = sig.read_signature(path)
        if store is None:
            return ("unsigned (no trust store configured)" if signed is None else
                    f"signature by key {signed.key_id} not checked (no trust store configured)"), False
        keys = sig.load_trust_store(store)
        if signed is None:
            raise sig.SignatureError(f"it is not signed ({sig.SIGNATURE_FILE} missing) and trust store {store} "
                                     "is configured; sign it with emg-convert sign")
        key = sig.verify_manifest(data, signed, keys)
    except sig.SignatureError as exc:
        raise BundleError(f"bundle {path} refused: {exc}") from None
    return f"signed by key {key.key_id} ({Path(key.source).name})", True


def load_bundle(name_or_path: str | Path = "default", verify_hash: bool = True,
                trusted_keys: str | Path | None = None, authenticate: bool = True) -> Bundle:
    """Load and validate a bundle directory (or a shipped bundle by name).

    Raises :class:`BundleError` for a missing directory or file, a manifest of another schema
    or version or with values of the wrong type, a label the wire cannot carry, a file whose
    SHA-256 differs from the manifest or that is a symlink, a front-end spec version other
    than this runtime's, an ``input.uv_per_lsb`` that is not a sane µV/LSB, a shipped bundle
    whose manifest is not the pinned one, or — with a trust store configured (``trusted_keys``,
    ``$EMG_EDGE_TRUSTED_KEYS`` or ``/etc/emg-edge/trusted-keys``) — a bundle not signed by one
    of its keys. With a trust store the files are always hashed (``verify_hash`` is ignored).
    ``authenticate=False`` skips the pin/signature check (build-side tools that are about to
    sign or re-pin a bundle); the device never passes it.
    """
    path = resolve_bundle_path(name_or_path)
    data = read_manifest_bytes(path)
    m = read_manifest(path, data)
    _check_schema(path, m)
    provenance, vouched = (_authenticate(path, data, trusted_keys) if authenticate
                           else ("not authenticated (build side)", False))
    if verify_hash or vouched:
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
        provenance=provenance,
    )
