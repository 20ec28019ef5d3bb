"""``emg-convert sweep``: a grid of trainings on Dask distributed, resumable, one folder per trial.

``emg-convert sweep --grid GRID.toml --data DIR --out RESULTS/ [--workers N] [--address HOST:PORT]``
trains every configuration of the grid (the cross product of its axes over a base), exports
each as a verified int8 bundle and evaluates it on the evaluation sets the grid names.
``emg-convert sweep-summary RESULTS/`` (:mod:`convert.sweep_summary`) prints mean ± sd over
seeds per configuration and paired comparisons against a reference configuration.

GRID.toml::

    [base]                       # settings every trial shares
    model = "cnn"                # cnn | crnn; other keys: the fields of ModelConfig and
    epochs = 8                   # TrainConfig (widths, dropout, rnn, learning_rate, ...) and
    widths = [16, 32, 48, 64]    # augment_copies / data_seed (the training features)
    [axes]                       # the cross product of these lists is the trial list
    seed = [0, 1, 2, 3, 4]
    dropout = [0.0, 0.5]
    [eval]                       # optional
    sets = ["test", "monopolar"] # "test" = DIR/test; others: convert.conditions held-out sets
    test_clips = 4               # size of each held-out condition set (per class), and
    test_recordings = 2          # its 60 s examinations
    [data]                       # optional; default source = "dir" (--data DIR)
    source = "conditions"        # train on the training condition of convert.conditions
    train_clips = 4              # sizes as convert.conditions.Sizes (these keys only)

``DIR`` is the ``emg-convert synth`` layout (``train/``, ``val/``, ``test/`` data directories)
or one flat data directory (20 % of its recordings, by recording, split off for validation
with ``data_seed``; then ``test`` is not available). A synth corpus mixes needles and the
sweep's chain copies draw from the full :class:`convert.chain.ChainConfig` (4 kHz, 2 Hz
high-pass, ...), so the held-out condition sets are not held out of such training data.
``[data] source = "conditions"`` builds the training and validation sets instead as the
cross-condition run does (:func:`convert.conditions.build_train_sets`: simulated concentric
needle, clean 44.1 kHz plus ``augment_copies`` copies through
:data:`convert.conditions.TRAIN_CHAIN` drawn from ``data_seed``); then ``--data`` is not
given and ``test`` is not an evaluation set (``in_condition`` is its held-out twin).

Each trial has a stable id (sha256 of its resolved configuration: model and training settings
with every default filled in, so a changed kit default means a new trial) and the folder
``RESULTS/<id>/`` with ``config.json``, ``metrics.json`` (per evaluation set: int8 macro-F1,
pathological sensitivity and specificity, share of voluntary and of normal windows called
pathological, :func:`convert.conditions.figures`), ``bundle/`` and ``train.log``. A trial is built in
``RESULTS/.tmp-<id>-<pid>/`` and renamed into place when complete, so an interrupted sweep
leaves no half result; a rerun skips every trial whose ``metrics.json`` exists.

Features are computed once by the driver, before any trial is submitted: the clean frames
through the feature cache (:mod:`convert.featcache`, ``--cache``), the windows of each
training-data variant and evaluation set as ``.npy`` files under ``RESULTS/_features/`` that
the workers memory-map. Training seeds vary the initialisation, batch order, dropout and
SpecAugment draws; the data split and chain copies follow ``data_seed`` (default 0).

Why Dask distributed and not Ray (Tune): the grid is fixed, so Tune's search algorithms and
trial schedulers are not needed; Dask is pure Python and light (Ray ships large binary wheels
and a heavier runtime: object store, raylet, dashboard); its futures give what a resumable
sweep needs plainly (submit one task per pending trial, ``retries`` if a worker dies,
``as_completed``), and ``--address`` connects to any running ``dask scheduler``. The engine is
the optional ``sweep`` extra (``pip install 'emg-edge-kit[sweep]'``), never a device
dependency. Each worker process runs one trial at a time with TensorFlow limited to one
intra-op and one inter-op thread, so N workers use N cores. With ``--address`` the workers
must have the kit installed and share ``RESULTS/`` with the driver (same path).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import os
import shutil
import time
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edge.validation import check_range

CONFIG_FILE, METRICS_FILE, BUNDLE, SWEEP_FILE = "config.json", "metrics.json", "bundle", "sweep.json"
LOG_FILE = "train.log"
FEATURES = "_features"
#: Lowest input rate (Hz) the trials' bundles accept (as ``emg-convert train``'s default).
MIN_RATE = 4000
#: Settings that choose the training features rather than the model or the optimiser.
DATA_KEYS = {"augment_copies": 1, "data_seed": 0}
#: Fine-tuning (as ``emg-convert finetune``): ``base_bundle`` names a trained bundle (a path or a
#: shipped name; "" = train from scratch) whose weights, architecture, front-end and
#: feature → int8 rule the trial continues from; ``freeze_blocks`` keeps its first N
#: convolution blocks fixed (weights and batch-norm statistics).
FINETUNE_KEYS = {"base_bundle": "", "freeze_blocks": 0}
#: TrainConfig fields a grid may not set (output only).
_NOT_GRID = {"verbose"}
EVAL_KEYS = ("sets", "test_clips", "test_recordings")
SECTIONS = ("base", "axes", "eval", "data")
#: Training-data sources: ``--data DIR``, or the training condition of :mod:`convert.conditions`.
DATA_SOURCES = ("dir", "conditions")
#: :class:`convert.conditions.Sizes` fields a ``[data]`` section may set (source "conditions";
#: ranges: ``convert.conditions.SIZE_RANGES``); the rest (test sets, epochs, widths) come from
#: ``[eval]``/the trial.
DATA_SIZES = ("train_clips", "train_recordings", "val_clips", "val_recordings", "clip_s", "recording_s",
              "voluntary_factor")
#: Training-window hop (s) of source "conditions", as ``benchmarks/cross_condition.py`` trains
#: (validation and evaluation windows keep the 0.25 s hop of the device).
CONDITIONS_TRAIN_HOP_S = 0.5
EXTRA_HINT = "emg-convert sweep needs the sweep extra (Dask distributed): pip install 'emg-edge-kit[sweep]'"


def _trial_defaults() -> dict[str, Any]:
    """Every key a grid may set and its default: ``model``, the fields of ModelConfig (but
    ``arch``) and TrainConfig (but ``verbose``), and :data:`DATA_KEYS`. Read from the dataclasses,
    so an option added to them is a grid key at once."""
    from convert.models import ModelConfig
    from convert.train import TrainConfig

    out: dict[str, Any] = {"model": "cnn"}
    for cls, skip in ((ModelConfig, {"arch"}), (TrainConfig, _NOT_GRID)):
        for f in fields(cls):
            if f.name not in skip:
                out[f.name] = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
    out.update(DATA_KEYS)
    out.update(FINETUNE_KEYS)
    return out


def _coerce(key: str, value: Any, default: Any) -> Any:
    """``value`` as the type of ``default`` (int → float; lists → tuples), else ValueError.
    A field whose default is None takes any value (its dataclass validates it)."""
    if default is None:
        return tuple(value) if isinstance(value, list) else value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{key} = {value!r}: expected true or false")
        return value
    if isinstance(default, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, int) and isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(default, str) and isinstance(value, str):
        return value
    if isinstance(default, tuple) and isinstance(value, (list, tuple)):
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    raise ValueError(f"{key} = {value!r}: expected {type(default).__name__} (default {default!r})")


def _jsonable(v: Any) -> Any:
    return [_jsonable(x) for x in v] if isinstance(v, (list, tuple)) else v


@dataclass(frozen=True)
class Trial:
    """One training: ``settings`` as the grid gives them (base + this trial's axis values),
    ``config`` resolved (every default filled in, JSON types); ``id`` = sha256 of ``config``."""

    settings: dict
    config: dict
    id: str

    def model_config(self):
        from convert.models import ModelConfig

        keys = _model_keys()
        if self.settings.get("base_bundle"):  # a fine-tuning trial has its base's architecture
            return ModelConfig.from_dict({k: self.config[k] for k in keys} | {"arch": self.config["model"]})
        return ModelConfig.default(self.config["model"], **{k: v for k, v in self.settings.items() if k in keys})

    def train_config(self):
        from convert.train import TrainConfig

        return TrainConfig(**{f.name: self.config[f.name] for f in fields(TrainConfig) if f.name not in _NOT_GRID},
                           verbose=0)

    @property
    def data_key(self) -> str:
        return "a{augment_copies}-s{data_seed}".format(**self.config)


def _model_keys() -> set[str]:
    from convert.models import ModelConfig

    return {f.name for f in fields(ModelConfig)} - {"arch"}


def base_architecture(name: str) -> tuple[dict, str]:
    """(architecture as ``ModelConfig.to_dict`` gives it, model id) of a fine-tuning base bundle;
    ValueError when it cannot be fine-tuned or computes other features than the sweep's."""
    from clikit import UserError

    from convert.evaluate import window_config_for
    from convert.finetune import base_model_config
    from convert.windowing import DEFAULT_UV_PER_LSB
    from edge.bundle import BundleError, load_bundle

    try:
        b = load_bundle(name)
        cfg = base_model_config(b)
    except (BundleError, UserError) as exc:
        raise ValueError(f"base_bundle = {name!r}: {exc}") from None

    fe, wcfg = _frontend()
    if b.frontend_config != fe or window_config_for(b) != wcfg or b.is_ensemble or b.uv_per_lsb != DEFAULT_UV_PER_LSB:
        raise ValueError(f"base_bundle = {name!r}: its front-end, window or scale differs from the sweep's "
                         f"({fe.sample_rate} Hz, {wcfg.window_s:g} s windows every {wcfg.hop_s:g} s, "
                         f"{DEFAULT_UV_PER_LSB:g} µV per LSB), or it is an ensemble")
    return cfg.to_dict(), b.model_id


def make_trial(settings: dict) -> Trial:
    """Validate ``settings`` (grid keys → values) and resolve them into a :class:`Trial`."""
    defaults = _trial_defaults()
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(defaults))}")
    s = {k: _coerce(k, v, defaults[k]) for k, v in settings.items()}
    if s.get("base_bundle"):
        return _finetune_trial(s, defaults)
    if s.get("freeze_blocks", 0):
        raise ValueError(f"freeze_blocks = {s['freeze_blocks']} applies to fine-tuning only (set base_bundle)")
    if s.get("model", "cnn") == "cnn" and "rnn" in s:
        raise ValueError(f"rnn = {s['rnn']!r} applies to model = \"crnn\" only")
    for k in DATA_KEYS:
        if s.get(k, 0) < 0:
            raise ValueError(f"{k} = {s[k]} must be >= 0")
    from convert.models import ARCHITECTURES

    if s.get("model", "cnn") not in ARCHITECTURES:
        raise ValueError(f"model = {s['model']!r} not one of {ARCHITECTURES}")
    settings = {k: _jsonable(v) for k, v in s.items()}
    # the dataclasses validate ranges and name the allowed values
    mcfg = Trial(settings, {"model": s.get("model", "cnn")}, "").model_config()
    cfg = {"model": mcfg.arch, **{k: v for k, v in mcfg.to_dict().items() if k != "arch"}}
    # the fine-tuning keys are left out of a from-scratch trial's config: its id stays what it was
    cfg.update({k: _jsonable(s.get(k, d)) for k, d in defaults.items() if k not in cfg and k not in FINETUNE_KEYS})
    return _resolved(settings, cfg)


def _resolved(settings: dict, cfg: dict) -> Trial:
    """The trial of a resolved ``cfg`` (JSON types; TrainConfig validates it); id = its sha256."""
    cfg = json.loads(json.dumps(cfg, sort_keys=True))
    Trial(settings, cfg, "").train_config()
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return Trial(settings=settings, config=cfg, id=digest[:16])


def _finetune_trial(s: dict, defaults: dict) -> Trial:
    """A fine-tuning trial: the model is the base bundle's (model keys may not be set); the
    resolved config names the base's model id, so a rebuilt base means new trials."""
    model_keys = sorted((set(s) & _model_keys()) | ({"model"} & set(s)))
    if model_keys:
        raise ValueError(f"{', '.join(model_keys)}: a fine-tuning trial (base_bundle = {s['base_bundle']!r}) "
                         "keeps its base's architecture; leave the model keys out")
    arch, model_id = base_architecture(s["base_bundle"])
    n_blocks = len(arch["widths"])
    if not 0 <= s.get("freeze_blocks", 0) <= n_blocks:
        raise ValueError(f"freeze_blocks = {s['freeze_blocks']} out of range 0..{n_blocks} (blocks in the base model)")
    settings = {k: _jsonable(v) for k, v in s.items()}
    cfg = {"model": arch["arch"], **{k: v for k, v in arch.items() if k != "arch"}, "base_model_id": model_id}
    cfg.update({k: _jsonable(s.get(k, d)) for k, d in defaults.items() if k not in cfg})
    return _resolved(settings, cfg)


@dataclass(frozen=True)
class EvalSpec:
    """Evaluation sets: ``"test"`` (DIR/test), names of :data:`convert.conditions.CONDITIONS`
    (simulated held-out condition sets of ``test_clips`` clips per class and
    ``test_recordings`` 60 s examinations) and names of :data:`convert.real_records.REAL_SETS`
    (real records through the device chain)."""

    sets: tuple[str, ...] = ("test",)
    test_clips: int = 4
    test_recordings: int = 2

    def __post_init__(self) -> None:
        from convert.conditions import CONDITIONS, SIZE_RANGES
        from convert.real_records import REAL_SETS

        allowed = ("test", *CONDITIONS, *REAL_SETS)
        bad = [s for s in self.sets if s not in allowed]
        if bad or not self.sets or len(set(self.sets)) != len(self.sets):
            raise ValueError(f"eval.sets {list(self.sets)}: give distinct names from {', '.join(allowed)}")
        for k in ("test_clips", "test_recordings"):
            check_range("eval", k, getattr(self, k), *SIZE_RANGES[k])


@dataclass(frozen=True)
class DataSpec:
    """Where the training and validation windows come from: ``source = "dir"`` (``--data DIR``)
    or ``"conditions"`` (:func:`convert.conditions.build_train_sets` with ``sizes``, a subset of
    :data:`DATA_SIZES`; unset ones keep :class:`convert.conditions.Sizes`' defaults)."""

    source: str = "dir"
    sizes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in DATA_SOURCES:
            raise ValueError(f"data.source {self.source!r} not one of {', '.join(DATA_SOURCES)}")
        bad = sorted(set(self.sizes) - set(DATA_SIZES))
        if bad:
            raise ValueError(f"unknown key(s) data.{', data.'.join(bad)}; allowed: source, {', '.join(DATA_SIZES)}")
        if self.sizes and self.source != "conditions":
            raise ValueError(f"data.{', data.'.join(sorted(self.sizes))} apply to data.source = \"conditions\" only")
        from convert.conditions import SIZE_RANGES

        for k, v in self.sizes.items():
            check_range("data", k, v, *SIZE_RANGES[k])

    def condition_sizes(self, chain_copies: int):
        """The :class:`convert.conditions.Sizes` of source ``"conditions"`` with ``chain_copies``."""
        from convert.conditions import Sizes

        return replace(Sizes(), chain_copies=int(chain_copies), **self.sizes)

    def describe(self, data: Path | None) -> str:
        """What the training data are, as ``sweep.json`` records it (a rerun on other data is refused)."""
        if self.source == "dir":
            return str(Path(data).resolve()) if data is not None else ""
        return "convert.conditions " + json.dumps(self.sizes, sort_keys=True)


@dataclass(frozen=True)
class Grid:
    """A validated sweep grid: ``base`` settings, ``axes`` (key → list of values), ``eval`` and
    ``data``."""

    base: dict = field(default_factory=dict)
    axes: dict = field(default_factory=dict)
    eval: EvalSpec = EvalSpec()
    data: DataSpec = DataSpec()

    def __post_init__(self) -> None:
        if self.data.source == "conditions" and "test" in self.eval.sets:
            raise ValueError("eval set 'test' is DIR/test, and data.source = \"conditions\" takes no DIR; "
                             "use in_condition (the training condition on held-out seeds)")
        for k, vals in self.axes.items():
            if not isinstance(vals, list) or not vals:
                raise ValueError(f"axes.{k} = {vals!r}: give a non-empty list of values")
            if len({json.dumps(_jsonable(v)) for v in vals}) != len(vals):
                raise ValueError(f"axes.{k} = {vals!r}: values repeat")
        allowed = _trial_defaults()
        unknown = sorted((set(self.base) | set(self.axes)) - set(allowed))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        both = sorted(set(self.base) & set(self.axes))
        if both:
            raise ValueError(f"key(s) {', '.join(both)} in both [base] and [axes]; give each in one")
        trials = self.trials()  # validates every combination (and the keys)
        ids = [t.id for t in trials]
        if len(set(ids)) != len(ids):
            raise ValueError("two axis combinations resolve to the same configuration (e.g. a value equal to "
                             "the default next to the default); remove one")

    def trials(self) -> list[Trial]:
        keys = sorted(self.axes)
        out = []
        for combo in itertools.product(*(self.axes[k] for k in keys)):
            try:
                out.append(make_trial({**self.base, **dict(zip(keys, combo))}))
            except ValueError as exc:
                where = ", ".join(f"{k}={v!r}" for k, v in zip(keys, combo))
                raise ValueError(f"{exc}" + (f" (trial {where})" if where else "")) from None
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Grid":
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise ValueError(f"unknown section(s) {', '.join(unknown)}; allowed: {', '.join(SECTIONS)}")
        ev = dict(data.get("eval", {}))
        bad = sorted(set(ev) - set(EVAL_KEYS))
        if bad:
            raise ValueError(f"unknown key(s) eval.{', eval.'.join(bad)}; allowed: {', '.join(EVAL_KEYS)}")
        if "sets" in ev:
            ev["sets"] = tuple(ev["sets"]) if isinstance(ev["sets"], list) else (ev["sets"],)
        ds = dict(data.get("data", {}))
        spec = DataSpec(source=ds.pop("source", "dir"), sizes=ds)
        return cls(base=dict(data.get("base", {})), axes=dict(data.get("axes", {})), eval=EvalSpec(**ev), data=spec)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Grid":
        """Read and validate GRID.toml; errors name the file and the bad key or value."""
        try:
            import tomllib
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"grid {path}: not valid TOML ({exc})") from None
        try:
            return cls.from_dict(data)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"grid {path}: {exc}") from None

    def to_dict(self) -> dict:
        return {"base": self.base, "axes": self.axes, "eval": {**asdict(self.eval), "sets": list(self.eval.sets)},
                "data": {"source": self.data.source, **self.data.sizes}}


# ---------------------------------------------------------------- features (driver side)

def _frontend():
    """(front-end config, window config) of every sweep: the kit's 44.1 kHz front-end, 1 s
    windows every 0.25 s (as ``emg-convert train``'s defaults)."""
    from convert import trainset

    return trainset.default_frontend_config(44100), trainset.window_config(1.0, 0.25)


def data_dirs(root: Path) -> dict[str, Path | None]:
    """``train``/``val``/``test`` data directories of ``root`` (synth layout), or ``root`` as train."""
    if (root / "train").is_dir():
        return {s: (root / s if (root / s).is_dir() else None) for s in ("train", "val", "test")}
    return {"train": root, "val": None, "test": None}


def _save_set(folder: Path, X: np.ndarray, y: np.ndarray, info: dict) -> None:
    """Write one window set atomically (temp folder, rename): ``X.npy``, ``y.npy``, ``info.json``."""
    tmp = folder.with_name(f".tmp-{folder.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "X.npy", np.ascontiguousarray(X))
    np.save(tmp / "y.npy", np.asarray(y, np.int64))
    (tmp / "info.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def load_set(folder: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(X memory-mapped, y, info) of a set written by :func:`_save_set`."""
    info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
    return np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy"), info


def prepare_features(grid: Grid, trials: list[Trial], data: Path | None, results: Path, cache_dir: Path,
                     log: Callable[[str], None] = print) -> Path:
    """Build every window set the ``trials`` need under ``RESULTS/_features/`` (kept ones are
    reused): ``train-<data_key>``, ``val-<data_key>`` with ``quant.json``, ``eval-<set>``.
    ``data``: the data directory (``grid.data.source == "dir"``), else None."""
    from convert import trainset
    from convert.conditions import Sizes, build_test_sets, build_train_sets

    feat = results / FEATURES
    fe, wcfg = _frontend()
    cache = trainset.open_cache(cache_dir)
    dirs = data_dirs(data) if grid.data.source == "dir" else {"train": None, "val": None, "test": None}
    loaded: dict[str, list] = {}

    def recs(split: str) -> list:
        if split not in loaded:
            loaded[split] = trainset.load_dir(dirs[split], fe.sample_rate, MIN_RATE)
        return loaded[split]

    for key in sorted({t.data_key for t in trials}):
        if (feat / f"train-{key}" / "info.json").is_file() and (feat / f"val-{key}" / "info.json").is_file():
            continue
        t0, cfg = time.time(), next(t.config for t in trials if t.data_key == key)
        if grid.data.source == "conditions":  # the cross-condition run's own builder, not a copy
            sizes = grid.data.condition_sizes(cfg["augment_copies"])
            train_wcfg = trainset.window_config(wcfg.window_s, CONDITIONS_TRAIN_HOP_S)
            tr, va, _ = build_train_sets(sizes, fe, train_wcfg, wcfg, cfg["data_seed"])
        else:
            if dirs["val"] is not None:
                tr_recs, va_recs = recs("train"), recs("val")
            else:
                tr_recs, va_recs = trainset.split_recordings(recs("train"), 0.2, cfg["data_seed"])
            tr = trainset.features(tr_recs, fe, wcfg, cache=cache, augment_copies=cfg["augment_copies"],
                                   seed=cfg["data_seed"])
            va = trainset.features(va_recs, fe, wcfg, cache=cache)
        quant = trainset.fit_quantizer(tr.X)
        _save_set(feat / f"val-{key}", va.X, va.y, {"summary": va.summary()})
        _save_set(feat / f"train-{key}", tr.X, tr.y, {"summary": tr.summary(), "quantizer": quant.to_dict()})
        log(f"features {key}: train {len(tr)} windows, validation {len(va)} [{time.time() - t0:.0f} s]")
    from convert.real_records import REAL_SETS

    # a real set is run through the device chain from its records: no window set to build
    missing = [s for s in grid.eval.sets if s not in REAL_SETS and not (feat / f"eval-{s}" / "info.json").is_file()]
    if "test" in missing:
        if dirs["test"] is None:  # (source "conditions" refuses "test" when the grid is read)
            raise ValueError(f"eval set 'test' needs {data}/test (a data directory); or list only held-out "
                             "condition sets in [eval] sets")
        te = trainset.features(recs("test"), fe, wcfg, cache=cache)
        _save_set(feat / "eval-test", te.X, te.y, {"summary": te.summary(), "source": str(dirs["test"])})
        log(f"features test: {len(te)} windows")
    conds = [s for s in missing if s != "test"]
    if conds:
        sizes = Sizes(test_clips=grid.eval.test_clips, test_recordings=grid.eval.test_recordings)
        for name, t in build_test_sets(sizes, fe, wcfg, names=conds, log=log).items():
            _save_set(feat / f"eval-{name}", t["features"].X, t["features"].y, {"summary": t["features"].summary(),
                                                                                **t["info"]})
    return feat


# ---------------------------------------------------------------- one trial (worker side)

def limit_threads() -> None:
    """One intra-op and one inter-op TensorFlow thread (and one BLAS/OpenMP thread) in this
    process, so N worker processes use N cores. Set before TensorFlow starts its runtime; a
    second call in the same process changes nothing."""
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = "1"  # also inherited by the CRNN's isolated converter child
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # N workers' C++ info lines drown the trial log
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # runtime already initialised in this worker: the first call set it
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def run_trial(trial: dict, results: str, eval_sets: list[str]) -> dict:
    """Train, export and evaluate one trial (``trial``: :class:`Trial` as a dict) into
    ``RESULTS/<id>/``; returns its metrics (``{"skipped": True}`` if they exist already)."""
    limit_threads()
    import keras

    t = Trial(**trial)
    root = Path(results)
    final = root / t.id
    if (final / METRICS_FILE).is_file():
        return {"id": t.id, "skipped": True}
    keras.backend.clear_session()  # a worker runs many trials: drop the previous graphs
    t0 = time.time()
    with trial_folder(root, t.id) as tmp:
        # Keras/converter chatter of N workers would interleave in the driver's terminal
        with open(tmp / LOG_FILE, "w", encoding="utf-8") as log, \
                contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            metrics = _train_evaluate(t, root, tmp, eval_sets)
        metrics["seconds"] = round(time.time() - t0, 2)
        write_trial(tmp, t.id, t.settings, t.config, metrics)
    return metrics


@contextlib.contextmanager
def trial_folder(root: Path, tid: str):
    """Build trial ``tid`` in ``RESULTS/.tmp-<tid>-<pid>/`` (yielded) and rename it to
    ``RESULTS/<tid>/`` when the block ends without error: the trial appears complete or not at
    all. On an error the temporary folder is removed. If another worker finished the same trial
    meanwhile, its folder is kept and this one dropped."""
    final, tmp = root / tid, root / f".tmp-{tid}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / METRICS_FILE).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # finished meanwhile by another worker
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_trial(folder: Path, tid: str, settings: dict, config: dict, metrics: dict) -> None:
    """``config.json`` and ``metrics.json`` of a trial (what sweep-summary reads)."""
    (folder / CONFIG_FILE).write_text(json.dumps({"id": tid, "settings": settings, "config": config}, indent=1)
                                      + "\n", encoding="utf-8")
    (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")


def _train_evaluate(t: Trial, root: Path, tmp: Path, eval_sets: list[str]) -> dict:
    """Train and export ``t`` into ``tmp/bundle``, add its open-set guard, evaluate: metrics."""
    from convert import trainset
    from convert.openset import add_open_set
    from convert.train import train_and_export
    from edge.bundle import load_bundle
    from edge.inference import FeatureQuantizer

    feat = root / FEATURES
    Xtr, ytr, info = load_set(feat / f"train-{t.data_key}")
    Xva, yva, vinfo = load_set(feat / f"val-{t.data_key}")
    tr = trainset.FeatureSet(Xtr, ytr, np.zeros(len(ytr), np.int64))
    va = trainset.FeatureSet(Xva, yva, np.zeros(len(yva), np.int64))
    fe, wcfg = _frontend()
    quant, base_model, extra, min_rate = FeatureQuantizer.from_dict(info["quantizer"]), None, None, MIN_RATE
    if t.config.get("base_bundle"):  # as emg-convert finetune: the base's weights and feature → int8 rule
        from convert.finetune import freeze_blocks, load_base_model

        base = load_bundle(t.config["base_bundle"])
        if base.model_id != t.config["base_model_id"]:
            raise ValueError(f"base_bundle {t.config['base_bundle']!r} is now {base.model_id}, the trial was "
                             f"resolved on {t.config['base_model_id']}; run the sweep again")
        base_model, _ = load_base_model(base)
        quant, min_rate = FeatureQuantizer.from_dict(base.manifest["input"]["feature_to_int8"]), base.min_sample_rate
        extra = {"finetuned_from": base.model_id,
                 "frozen_layers": freeze_blocks(base_model, t.config["freeze_blocks"])}
    result = train_and_export(tmp / BUNDLE, tr, va, quant,
                              t.model_config(), t.train_config(), fe, wcfg, min_rate,
                              data_summary={"sweep_trial": t.id, "train": info["summary"],
                                            "val": vinfo["summary"]},
                              extra_training=extra, base_model=base_model)
    add_open_set(tmp / BUNDLE, Xtr, ytr, Xva, yva)
    bundle = load_bundle(tmp / BUNDLE)
    sets = evaluate_sets(bundle, root, eval_sets)
    epochs = len(result.history.get("loss", []))
    metrics = {
        "id": t.id, "sets": sets, "val_macro_f1": round(result.best_val_macro_f1, 6),
        "best_epoch": result.best_epoch, "epochs_run": epochs, "train_windows": int(len(ytr)),
        "fit_seconds": round(result.seconds, 2),
        "windows_per_s": round(len(ytr) * epochs / max(result.seconds, 1e-9), 1),
        "bundle": bundle.model_id,
    }
    return metrics


def evaluate_sets(bundle, results: Path, names) -> dict:
    """``{name: figures}`` of ``bundle`` on each evaluation set: the window sets of
    ``RESULTS/_features/eval-<name>`` (:func:`convert.conditions.figures`), or a real set of
    :data:`convert.real_records.REAL_SETS` run through the device chain
    (:func:`convert.real_records.real_set_figures`)."""
    from convert.conditions import figures
    from convert.evaluate import evaluate_windows
    from convert.real_records import REAL_SETS, real_set_figures

    out = {}
    for name in names:
        if name in REAL_SETS:
            out[name] = real_set_figures(bundle, name)
        else:
            X, y, _ = load_set(Path(results) / FEATURES / f"eval-{name}")
            out[name] = figures(evaluate_windows(bundle, np.asarray(X), y, latency=False))
    return out


# ---------------------------------------------------------------- driver

def pending(trials: list[Trial], results: Path) -> list[Trial]:
    """Trials without ``RESULTS/<id>/metrics.json`` (a folder without it is stale: removed)."""
    out = []
    for t in trials:
        if not (results / t.id / METRICS_FILE).is_file():
            shutil.rmtree(results / t.id, ignore_errors=True)
            out.append(t)
    return out


def _client(workers: int | None, address: str | None):
    """A Dask client on ``address`` or on a new LocalCluster of ``workers`` single-thread
    processes (default: all local cores). Returns (client, cluster or None)."""
    from clikit import UserError

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UserError(EXTRA_HINT) from None
    if address:
        try:
            return Client(address, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise UserError(f"--address {address}: no Dask scheduler answered ({exc})") from None
    n = workers or len(os.sched_getaffinity(0))
    # memory_limit=0: no nanny restarts on a training's memory peak; dashboard off (needs bokeh)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=0,
                           dashboard_address=None)
    return Client(cluster), cluster


def _warm() -> bool:
    limit_threads()
    import keras  # noqa: F401 - import TensorFlow/Keras once per worker, before timing

    return True


def run_sweep(grid: Grid, data: Path | None, results: Path, workers: int | None = None, address: str | None = None,
              cache_dir: Path | None = None, retries: int = 1, log: Callable[[str], None] = print) -> dict:
    """Run the pending trials of ``grid`` (``data``: the data directory, None for
    ``[data] source = "conditions"``); returns counts and timings (s):
    ``{"trials", "skipped", "ran", "failed", "prepare_s", "startup_s", "trials_s", "errors"}``."""
    if (data is None) != (grid.data.source == "conditions"):
        from clikit import UserError

        raise UserError("give --data DIR, or [data] source = \"conditions\" in the grid (then no --data)"
                        if data is None else
                        f"--data {data}: the grid's [data] source = \"conditions\" builds its own training data")
    results.mkdir(parents=True, exist_ok=True)
    with results_lock(results):
        return _run(grid, data, results, workers, address, cache_dir, retries, log)


@contextlib.contextmanager
def results_lock(results: Path):
    """Hold ``RESULTS/.sweep.lock``: one writer per results folder (a second sweep would
    remove the first one's trials in progress as stale; ``sweep-evaluate`` rewrites the
    trials' metrics). A :class:`clikit.UserError` if another process holds it."""
    import fcntl

    from clikit import UserError

    fh = open(results / ".sweep.lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise UserError(f"another sweep is running on {results} (it holds {results / '.sweep.lock'})") from None
    try:
        yield
    finally:
        fh.close()


def _run(grid: Grid, data: Path | None, results: Path, workers: int | None, address: str | None,
         cache_dir: Path | None, retries: int, log: Callable[[str], None]) -> dict:
    from clikit import UserError

    trials = grid.trials()
    meta = {"grid": grid.to_dict(), "data": grid.data.describe(data), "trials": sorted(t.id for t in trials)}
    sweep_file = results / SWEEP_FILE
    if sweep_file.is_file():
        old = json.loads(sweep_file.read_text(encoding="utf-8"))
        if old.get("data") != meta["data"]:
            raise UserError(f"{results} holds a sweep on {old.get('data')}, not {meta['data']}; use another --out")
        meta["trials"] = sorted(set(old.get("trials", [])) | set(meta["trials"]))
    sweep_file.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    for stale in results.glob(".tmp-*"):  # a killed trial's half-built folder (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    todo = pending(trials, results)
    out = {"trials": len(trials), "skipped": len(trials) - len(todo), "ran": 0, "failed": 0, "errors": {},
           "prepare_s": 0.0, "startup_s": 0.0, "trials_s": 0.0}
    log(f"{len(trials)} trials: {out['skipped']} done, {len(todo)} to run")
    if not todo:
        return out
    t0 = time.time()
    prepare_features(grid, todo, data, results, cache_dir or results / "_featcache", log)
    out["prepare_s"] = round(time.time() - t0, 2)
    t0 = time.time()
    client, cluster = _client(workers, address)
    try:
        from distributed import as_completed

        client.run(_warm)
        out["startup_s"] = round(time.time() - t0, 2)
        t0 = time.time()
        futures = {client.submit(run_trial, {"settings": t.settings, "config": t.config, "id": t.id}, str(results),
                                 list(grid.eval.sets), key=f"trial-{t.id}", pure=False, retries=retries): t
                   for t in todo}
        for fut in as_completed(futures):
            t = futures[fut]
            label = " ".join(f"{k}={v}" for k, v in sorted(t.settings.items()) if k in grid.axes)
            if fut.status == "error":
                out["failed"] += 1
                out["errors"][t.id] = f"{type(fut.exception()).__name__}: {fut.exception()}"
                log(f"trial {t.id} ({label}) FAILED: {out['errors'][t.id]}")
                continue
            m = fut.result()
            out["ran"] += 1
            first = next(iter(m["sets"].values()), {})
            log(f"trial {t.id} ({label}) done: val macro-F1 {m['val_macro_f1']:.3f}, "
                f"{next(iter(m['sets']), '-')} int8 macro-F1 {first.get('int8_macro_f1', float('nan')):.3f} "
                f"[{m['seconds']:.0f} s]")
        out["trials_s"] = round(time.time() - t0, 2)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return out


# ---------------------------------------------------------------- CLI

def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="train a grid of configurations on Dask (resumable, one folder a trial)",
                              description="Run the cross product of a grid's axes on local cores or a Dask "
                                          "cluster; each trial writes config.json, metrics.json and its bundle.")
    p.add_argument("--grid", required=True, help="GRID.toml: [base], [axes], optional [eval]")
    p.add_argument("--data", help="data directory: train/ val/ test/ (emg-convert synth) or flat; not given "
                                  "when the grid says [data] source = \"conditions\"")
    p.add_argument("--out", required=True, help="results directory (RESULTS/<trial id>/ per trial)")
    p.add_argument("--workers", type=int, help="local worker processes, one thread each (default: all cores)")
    p.add_argument("--address", help="HOST:PORT of a running Dask scheduler (instead of local workers)")
    p.add_argument("--cache", help="feature cache directory (default: OUT/_featcache)")
    p.add_argument("--retries", type=int, default=1,
                   help="re-runs of a trial that failed or whose worker died (default 1)")
    p.set_defaults(func=_cmd_sweep)
    from convert.sweep_summary import add_parser as add_summary

    add_summary(subparsers)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from clikit import UserError

    try:
        import distributed  # noqa: F401 - fail before any work without the extra
    except ImportError:
        raise UserError(EXTRA_HINT) from None
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise UserError(f"--workers {args.workers} out of range 1..1024")
    if not 0 <= args.retries <= 10:
        raise UserError(f"--retries {args.retries} out of range 0..10")
    data = Path(args.data) if args.data else None
    if data is not None and not data.is_dir():
        raise UserError(f"--data {data} is not a directory")
    grid = Grid.from_toml(args.grid)
    res = run_sweep(grid, data, Path(args.out), args.workers, args.address,
                    Path(args.cache) if args.cache else None, args.retries)
    print(json.dumps({k: v for k, v in res.items() if k != "errors"}), flush=True)
    return 1 if res["failed"] else 0
