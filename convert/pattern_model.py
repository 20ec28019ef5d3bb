"""Train the learned MUAP pattern model: voluntary windows → normal / neurogenic / myopathic.

Data: simulated voluntary activity only (:mod:`convert.simulator`, ``simulate_clip(
"voluntary_muap", ...)`` of a subject drawn with ``Subject.draw(seed, needle=, muscle=)``;
every variant: ramps to 40 % MVC, threshold, tremor, needle moved). One subject per seed,
classes in turn (seed ``seed0 + i`` has state ``PATTERN_LABELS[i % 3]``). The split is by
subject: the ``k``-th subject of a class (``k = i // 3``) is test when ``k % 5 == 0``,
validation when ``k % 5 == 1``, training otherwise, so no subject's anatomy is on two sides.

Features: the device's exact integers: :func:`convert.windowing.recording_frames` (rescale to
the bundle's µV/LSB, the device's resampler, the integer front-end) sliced into the windows
the runtime assembles (:func:`convert.windowing.slice_windows`); every window of a clip takes
the subject's state. Training recordings also go through ``chain_copies`` recording chains
(:mod:`convert.chain`, residual calibration error limited to ±``gain_error_db``: the device
calibrates every source, and amplitude is what separates the classes).

Model: a tiny CNN (:mod:`convert.models`, a few thousand parameters) fitted by
:func:`convert.train.fit` (class weights, SpecAugment, early stopping on validation
macro-F1), quantised to full int8 and bundled by :func:`convert.export.export_bundle`; the
manifest gets ``task: "muap_pattern"``. Evaluation runs the device runner
(:class:`edge.quant.pattern_model.PatternModel`) on the held-out subjects, clean and through
one drawn recording chain each, and, where :func:`edge.quant.quantify` exists, the rule-based
summary (:func:`edge.quant.pattern.pattern`) on the same recordings.

``emg-convert train-pattern --out DIR`` runs it all.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from edge.quant.pattern_model import PATTERN_LABELS, TASK, aggregate

#: Rule-based labels → model labels (for the comparison table).
RULE_TO_MODEL = {"within limits": "normal", "neurogenic-looking": "neurogenic", "myopathic-looking": "myopathic"}
#: Reference rows the rule-based summary is compared against.
RULE_MUSCLES = ("tibialis_anterior", "unspecified")


@dataclass(frozen=True)
class PatternDataConfig:
    """Simulated data set. ``per_class`` subjects per class (>= 5, so every split gets one),
    ``clip_s`` s of voluntary activity each at ``sample_rate`` Hz; subject seeds from ``seed0``;
    ``needle`` concentric or monopolar; ``chain_copies`` recording-chain copies per training
    recording with gain error within ±``gain_error_db`` dB; ``uv_per_lsb`` the features' scale."""

    per_class: int = 40
    clip_s: float = 8.0
    sample_rate: int = 44100
    seed0: int = 20000
    needle: str = "concentric"
    chain_copies: int = 1
    gain_error_db: float = 1.5
    window_s: float = 1.0
    hop_s: float = 0.25
    uv_per_lsb: float = 0.5

    def __post_init__(self) -> None:
        if not 5 <= self.per_class <= 2000:
            raise ValueError(f"per_class {self.per_class} out of range 5..2000 subjects")
        if not 1.5 <= self.clip_s <= 120.0:
            raise ValueError(f"clip_s {self.clip_s} out of range 1.5..120 s")
        if self.seed0 < 0:
            raise ValueError(f"seed0 {self.seed0} must be >= 0")
        if not 0 <= self.chain_copies <= 8:
            raise ValueError(f"chain_copies {self.chain_copies} out of range 0..8")
        if not 0.0 <= self.gain_error_db <= 20.0:
            raise ValueError(f"gain_error_db {self.gain_error_db} out of range 0..20 dB")

    def subjects(self) -> list[tuple[int, str, str]]:
        """``(seed, state, split)`` of every subject; split ``train``, ``val`` or ``test``."""
        out = []
        for i in range(3 * self.per_class):
            k = i // 3
            split = "test" if k % 5 == 0 else "val" if k % 5 == 1 else "train"
            out.append((self.seed0 + i, PATTERN_LABELS[i % 3], split))
        return out


def simulate(seed: int, state: str, cfg: PatternDataConfig):
    """One subject's voluntary clip (a :class:`convert.recording.Recording`)."""
    from convert.simulator.scenes import simulate_clip
    from convert.simulator.subject import Subject

    subject = Subject.draw(seed, needle=cfg.needle, muscle=state)
    return simulate_clip("voluntary_muap", cfg.clip_s, cfg.sample_rate, seed, subject=subject, background="none")


def chain_config(cfg: PatternDataConfig):
    from convert.chain import ChainConfig

    return ChainConfig(gain_error_db=(-cfg.gain_error_db, cfg.gain_error_db))


def recording_windows(rec, fe_cfg, wcfg, uv_per_lsb: float) -> np.ndarray:
    """``(n, window_frames, n_mels)`` front-end windows of ``rec`` at ``uv_per_lsb`` µV/LSB."""
    from convert.windowing import recording_frames, slice_windows

    return slice_windows(recording_frames(rec, fe_cfg, uv_per_lsb=uv_per_lsb), *wcfg.frames(fe_cfg))


def build_sets(cfg: PatternDataConfig, fe_cfg, wcfg) -> dict:
    """``{split: FeatureSet}`` (``y`` indexes :data:`PATTERN_LABELS`; ``names`` per recording)."""
    from convert.chain import apply_chain
    from convert.trainset import FeatureSet

    chains = chain_config(cfg)
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for seed, state, split in cfg.subjects():
        rec = simulate(seed, state, cfg)
        versions = [(rec, rec.name)]
        if split == "train":
            versions += [(apply_chain(rec, chains.draw(seed * 16 + c)), f"{rec.name}+chain{seed * 16 + c}")
                         for c in range(cfg.chain_copies)]
        for version, name in versions:
            parts[split].append((recording_windows(version, fe_cfg, wcfg, cfg.uv_per_lsb),
                                 PATTERN_LABELS.index(state), name, version.duration_s))
    sets = {}
    for split, items in parts.items():
        X = np.concatenate([x for x, *_ in items])
        y = np.concatenate([np.full(len(x), lab, np.int64) for x, lab, *_ in items])
        g = np.concatenate([np.full(len(x), j, np.int64) for j, (x, *_) in enumerate(items)])
        sets[split] = FeatureSet(X, y, g, [n for *_, n, _ in items], float(sum(d for *_, d in items)))
    return sets


def default_model_config():
    """The tiny CNN: 3 blocks of 8/16/16 channels (~3.7 k parameters), average+max head."""
    from convert.models import ModelConfig

    return ModelConfig(arch="cnn", widths=(8, 16, 16), pools=((2, 2), (2, 2), (2, 2)), dropout=0.2, head="avgmax")


def train_pattern(out: str | Path, cfg: PatternDataConfig = PatternDataConfig(), model_cfg=None, tcfg=None,
                  evaluate: bool = True) -> dict:
    """Simulate, train, export the pattern bundle to ``out`` and evaluate it; returns the metrics."""
    from convert import trainset
    from convert.export import export_bundle, update_manifest
    from convert.models import build_model, count_params
    from convert.train import TrainConfig, fit, to_model_input, wcfg_dict

    model_cfg = model_cfg or default_model_config()
    tcfg = tcfg or TrainConfig(epochs=15, batch_size=32, patience=4, verbose=0)
    out = Path(out)
    fe_cfg = trainset.default_frontend_config(cfg.sample_rate)
    wcfg = trainset.window_config(cfg.window_s, cfg.hop_s)
    t0 = time.time()
    sets = build_sets(cfg, fe_cfg, wcfg)
    t_data = time.time() - t0
    quant = trainset.fit_quantizer(sets["train"].X)
    qtr, qva = quant(sets["train"].X), quant(sets["val"].X)
    model = build_model(qtr.shape[1:], len(PATTERN_LABELS), model_cfg, seed=tcfg.seed)
    result = fit(model, qtr, sets["train"].y, qva, sets["val"].y, tcfg)

    def summary(fs):
        return {"recordings": len(fs.names), "windows": int(len(fs.y)), "audio_s": round(fs.seconds, 1),
                "per_class": {k: int(c) for k, c in zip(PATTERN_LABELS, np.bincount(fs.y, minlength=3))}}

    training = {"task": TASK, "data": {"config": asdict(cfg), **{k: summary(v) for k, v in sets.items()},
                                       "source": "simulated voluntary activity only (convert.simulator)"},
                "config": asdict(tcfg), "best_epoch": result.best_epoch,
                "val_macro_f1": round(result.best_val_macro_f1, 6), "parameters": count_params(model),
                "seconds": {"data": round(t_data, 1), "fit": round(result.seconds, 1)}}
    export_bundle(out, model=model, model_cfg=model_cfg, representative=to_model_input(qtr), quantizer=quant,
                  frontend_cfg=fe_cfg, window=wcfg_dict(wcfg, qtr.shape[1], fe_cfg), labels=PATTERN_LABELS,
                  pathological=PATTERN_LABELS[1:], min_sample_rate=4000, training=training,
                  uv_per_lsb=cfg.uv_per_lsb)
    (out / "weights.npz").unlink(missing_ok=True)  # not shipped: keeps the bundle small
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"].pop("weights.npz", None)
    update_manifest(out, task=TASK, files=manifest["files"],
                    model_id=f"muap-pattern-{manifest['files']['model.tflite']['sha256'][:12]}")
    metrics = evaluate_pattern(out, cfg) if evaluate else {}
    update_manifest(out, metrics=metrics)
    return {"training": training, "metrics": metrics}


def _confusion_report(y_true: list[str], y_pred: list[str], pred_labels: tuple[str, ...]) -> dict:
    """Rows: true class; columns: ``pred_labels``; plus accuracy and per-class recall."""
    rows = {t: {p: 0 for p in pred_labels} for t in PATTERN_LABELS}
    for t, p in zip(y_true, y_pred):
        rows[t][p] += 1
    n = len(y_true)
    correct = sum(t == p for t, p in zip(y_true, y_pred))
    recall = {t: round(rows[t][t] / max(1, sum(rows[t].values())), 4) for t in PATTERN_LABELS}
    return {"n": n, "accuracy": round(correct / n, 4) if n else None, "recall": recall, "confusion": rows}


#: Evaluation conditions of the held-out subjects: (name, what it changes).
CONDITIONS = (
    ("clean", "as simulated (concentric, the amplifier's 0.5 µV/LSB, 44.1 kHz)"),
    ("chain", "one drawn recording chain each (filters, rate, hum, noise, scale), calibrated within ±gain_error_db"),
    ("chain_uncalibrated", "one drawn recording chain each with the default ±6 dB gain error (an uncalibrated source)"),
    ("monopolar", "the same subjects recorded with a monopolar needle (~2.05× amplitude, ~1.86× duration)"),
)


def condition_recording(seed: int, state: str, cfg: PatternDataConfig, condition: str):
    """A held-out subject's clip under one of :data:`CONDITIONS`."""
    from convert.chain import ChainConfig, apply_chain

    if condition == "monopolar":
        return simulate(seed, state, replace(cfg, needle="monopolar"))
    rec = simulate(seed, state, cfg)
    if condition == "clean":
        return rec
    chains = chain_config(cfg) if condition == "chain" else ChainConfig()
    return apply_chain(rec, chains.draw(seed * 16 + 15))


def evaluate_pattern(bundle_dir: str | Path, cfg: PatternDataConfig) -> dict:
    """Held-out subjects through the device runner under each of :data:`CONDITIONS` (windows
    and recordings); the rule-based summary on the clean recordings where
    :func:`edge.quant.quantify` is available, and on the same subjects' true templates
    (:func:`rule_on_true_templates`)."""
    from edge.quant.pattern_model import PatternModel

    pm = PatternModel(bundle_dir)
    rec_labels = PATTERN_LABELS + ("indeterminate",)
    test = [(seed, state) for seed, state, split in cfg.subjects() if split == "test"]
    truth = [state for _, state in test]
    out: dict = {"test_subjects": len(test), "conditions": dict(CONDITIONS)}
    for condition, _ in CONDITIONS:
        calls, win_true, win_pred = [], [], []
        for seed, state in test:
            rec = condition_recording(seed, state, cfg, condition)
            probs = pm.window_probabilities(rec.pcm, rec.sample_rate, rec.uv_per_lsb)
            calls.append(aggregate(probs).label)
            win_true += [state] * len(probs)
            win_pred += [PATTERN_LABELS[int(i)] for i in probs.argmax(axis=1)]
        out[f"int8_windows_{condition}"] = _confusion_report(win_true, win_pred, PATTERN_LABELS)
        out[f"int8_recordings_{condition}"] = _confusion_report(truth, calls, rec_labels)
    rule = _rule_based()
    if rule is not None:
        rule_calls = [rule(simulate(seed, state, cfg)) for seed, state in test]
        for muscle in RULE_MUSCLES:
            out[f"rule_based_recordings_{muscle}"] = _confusion_report(truth, [c[muscle] for c in rule_calls],
                                                                      rec_labels)
    else:
        out["rule_based_recordings"] = "not run: edge.quant.quantify is not available"
    truth_calls = [rule_on_true_templates(seed, state, cfg) for seed, state in test]
    for muscle in RULE_MUSCLES:
        out[f"rule_based_true_templates_{muscle}"] = _confusion_report(truth, [c[muscle] for c in truth_calls],
                                                                      rec_labels)
    return out


def _rule_based():
    """``rec → {muscle: model label}`` by :func:`edge.quant.quantify` and
    :func:`edge.quant.pattern.pattern` against the tibialis anterior row (the simulator's pools
    follow the TA controls) and the wide ``unspecified`` row; None while quantification is
    not available."""
    try:
        from edge.quant import quantify
    except ImportError:
        return None
    from edge.quant.pattern import pattern

    def call(rec) -> dict:
        m = quantify(rec.pcm, rec.sample_rate, uv_per_lsb=rec.uv_per_lsb).measures
        return {muscle: RULE_TO_MODEL.get(pattern(m, muscle=muscle).label, "indeterminate")
                for muscle in RULE_MUSCLES}

    return call


def rule_on_true_templates(seed: int, state: str, cfg: PatternDataConfig) -> dict:
    """``{muscle: model label}`` of the rule-based summary on the simulator's TRUE pool: every
    unit's noise-free template measured by :func:`edge.quant.units.template_measures`
    (:func:`convert.simulator.voluntary_truth.true_template`), no firing information. It
    separates what the rules and reference values make of the simulated pools from what
    decomposition and measurement add."""
    from convert.simulator.subject import Subject
    from convert.simulator.voluntary_truth import true_template
    from edge.quant.measures import RecordingMeasures, UnitMeasures
    from edge.quant.pattern import pattern
    from edge.quant.units import template_measures

    subject = Subject.draw(seed, needle=cfg.needle, muscle=state)
    units = []
    for i in range(len(subject.mu_amplitude_uv)):
        tm = template_measures(true_template(subject, i, cfg.sample_rate)[0], cfg.sample_rate)
        units.append(UnitMeasures(id=i, n_discharges=0, firing_rate_hz=float("nan"), isi_cv=float("nan"),
                                  amplitude_uv=tm.amplitude_uv, duration_ms=tm.duration_ms, phases=tm.phases,
                                  turns=tm.turns, area_uv_ms=tm.area_uv_ms,
                                  thickness_ms=tm.area_uv_ms / max(tm.amplitude_uv, 1e-9), satellites=0))
    m = RecordingMeasures(units=units, sample_rate_hz=float(cfg.sample_rate))
    return {muscle: RULE_TO_MODEL.get(pattern(m, muscle=muscle).label, "indeterminate") for muscle in RULE_MUSCLES}


# ---------------------------------------------------------------- CLI

def add_parser(subparsers) -> None:
    d = PatternDataConfig()
    p = subparsers.add_parser("train-pattern", help="train the int8 MUAP pattern model on simulated voluntary activity",
                              description="Simulate normal/neurogenic/myopathic voluntary activity, train a tiny CNN "
                                          "on the device's log-Mel windows, export a muap_pattern bundle, evaluate "
                                          "it on held-out subjects.")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--per-class", type=int, default=d.per_class, help="simulated subjects per class")
    p.add_argument("--clip-s", type=float, default=d.clip_s, help="seconds of voluntary activity per subject")
    p.add_argument("--seed0", type=int, default=d.seed0, help="first subject seed")
    p.add_argument("--needle", choices=("concentric", "monopolar"), default=d.needle)
    p.add_argument("--chain-copies", type=int, default=d.chain_copies)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
    p.set_defaults(func=_cmd_train_pattern)


def _cmd_train_pattern(args: argparse.Namespace) -> int:
    from convert.train import TrainConfig

    cfg = PatternDataConfig(per_class=args.per_class, clip_s=args.clip_s, seed0=args.seed0, needle=args.needle,
                            chain_copies=args.chain_copies)
    tcfg = TrainConfig(epochs=args.epochs, batch_size=32, patience=4, seed=args.seed, verbose=0)
    res = train_pattern(args.out, cfg, tcfg=tcfg, evaluate=not args.no_eval)
    print(json.dumps({"bundle": str(args.out), "val_macro_f1": res["training"]["val_macro_f1"],
                      "parameters": res["training"]["parameters"], "metrics": res["metrics"]}, indent=1), flush=True)
    return 0
