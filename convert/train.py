"""Training: class-weighted fitting with SpecAugment and early stopping on validation macro-F1.

Inputs are int8 feature windows ``q`` (``(n, frames, n_mels)``, from
:class:`edge.inference.FeatureQuantizer`); the network sees ``q / 128``, the grid the int8
model will see. ``emg-convert train --data DIR --model cnn|crnn --out DIR`` trains on a data
directory (WAV + same-stem label files) and writes a bundle. The CRNN is the per-gate GRU of
:mod:`convert.models` (``rnn="gru_gates"``: its trained int8 export verifies and agrees with
the float model best); ``--rnn`` picks another temporal layer (``lstm_gates``, ``tcn``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.inference import MODEL_INPUT_SCALE
from edge.runtime.prior import MAX_WEIGHT, MIN_WEIGHT
from convert.metrics import macro_f1


#: The recipe's class prior on voluntary activity (``decision_prior`` of the bundles it writes,
#: :mod:`edge.runtime.prior`): the model is trained class-weighted (every class equally likely)
#: while a needle examination is much voluntary contraction and little of each spontaneous
#: discharge, and calling a contraction pathological is the error the kit must not make. 4: a
#: window is called pathological only where the model finds that class more than four times as
#: likely as voluntary activity. Fixed from that reasoning, not fitted to a test set; what it
#: does on each benchmark is reported beside the figures without it (model card, README).
VOLUNTARY_WEIGHT = 4.0


def recipe_prior(voluntary_weight: float = VOLUNTARY_WEIGHT) -> dict[str, float]:
    """The recipe's class factors (label → factor) for a voluntary weight; ``{}`` when it is 1."""
    return {"voluntary_muap": float(voluntary_weight)} if voluntary_weight != 1.0 else {}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. ``patience``: epochs without a better validation macro-F1
    before stopping (the best epoch's weights are restored). ``weight_average``: decay per step
    of an exponential moving average of all the model's weights (BatchNorm statistics too),
    in [0, 1); 0 = off. When on, each epoch is validated, selected and exported with the averaged
    weights, and the optimiser keeps stepping the raw ones (Polyak averaging)."""

    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    patience: int = 6
    seed: int = 0
    class_weighting: bool = True
    spec_augment: bool = True
    verbose: int = 2
    weight_average: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight_average < 1.0:
            raise ValueError(f"weight_average {self.weight_average} out of range [0, 1)")
        if not 1 <= self.epochs <= 10000:
            raise ValueError(f"epochs {self.epochs} out of range [1, 10000]")
        if not 1 <= self.batch_size <= 4096:
            raise ValueError(f"batch_size {self.batch_size} out of range [1, 4096]")
        if not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning_rate {self.learning_rate} out of range (0, 1)")
        if self.patience < 1:
            raise ValueError(f"patience {self.patience} must be >= 1")


@dataclass
class TrainResult:
    model: object
    history: dict = field(default_factory=dict)
    best_epoch: int = 0
    best_val_macro_f1: float = 0.0
    seconds: float = 0.0


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Balanced weights ``n / (k · count_c)`` over the ``k`` classes present; absent → 0."""
    counts = np.bincount(np.asarray(y, np.int64), minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return w


def to_model_input(q: np.ndarray) -> np.ndarray:
    """int8 windows → the float network input ``q / 128``."""
    return np.asarray(q, np.float32) * np.float32(MODEL_INPUT_SCALE)


def _batches_class():
    import keras

    from convert.models import spec_augment

    class WindowBatches(keras.utils.PyDataset):
        """Shuffled batches of (float input, label, weight); SpecAugment on each batch."""

        def __init__(self, q, y, weights, batch_size, seed, augment):
            super().__init__()
            self.q, self.y, self.w = q, np.asarray(y, np.int64), weights
            self.batch_size, self.augment = batch_size, augment
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(self.q))

        def __len__(self):
            return int(np.ceil(len(self.q) / self.batch_size))

        def __getitem__(self, i):
            idx = np.sort(self.order[i * self.batch_size:(i + 1) * self.batch_size])
            x = to_model_input(self.q[idx])
            if self.augment:
                x = spec_augment(x, self.rng)
            return x, self.y[idx], self.w[self.y[idx]].astype(np.float32)

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(self.q))

    return WindowBatches


def _weight_average_class():
    import keras

    class WeightAverage(keras.callbacks.Callback):
        """Exponential moving average of every floating-point weight, updated after each batch.

        Decay ``min(decay, (1 + t) / (10 + t))`` at step ``t`` (the usual warm-up, so the first
        steps do not pin the average to the initialisation). At each epoch's end the average is
        swapped in, so the callbacks after this one (validation macro-F1, best-epoch selection)
        see it; the raw weights come back at the next epoch's start. Must come before the
        early-stopping callback in the list.
        """

        def __init__(self, decay: float):
            super().__init__()
            self.decay = float(decay)
            self.avg, self.floating, self.raw, self.step = None, None, None, 0

        def on_train_begin(self, logs=None):
            w0 = self.model.get_weights()
            self.avg = [np.array(w, np.float64) for w in w0]
            self.floating = [np.issubdtype(w.dtype, np.floating) for w in w0]
            self.step = 0

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            d = min(self.decay, (1.0 + self.step) / (10.0 + self.step))
            for a, w, f in zip(self.avg, self.model.get_weights(), self.floating):
                if f:
                    a *= d
                    a += (1.0 - d) * w
                else:
                    a[...] = w

        def on_epoch_end(self, epoch, logs=None):
            self.raw = self.model.get_weights()
            self.model.set_weights([a.astype(r.dtype) for a, r in zip(self.avg, self.raw)])

        def on_epoch_begin(self, epoch, logs=None):
            if self.raw is not None:
                self.model.set_weights(self.raw)
                self.raw = None

    return WeightAverage


def _early_stopping_class():
    import keras

    class MacroF1EarlyStopping(keras.callbacks.Callback):
        """Validation macro-F1 each epoch; stop after ``patience`` epochs without gain; keep best."""

        def __init__(self, x_val, y_val, n_classes, patience):
            super().__init__()
            self.x_val, self.y_val, self.n_classes, self.patience = x_val, y_val, n_classes, patience
            self.best, self.best_epoch, self.best_weights, self.wait = -1.0, 0, None, 0

        def on_epoch_end(self, epoch, logs=None):
            pred = np.argmax(self.model.predict(self.x_val, batch_size=256, verbose=0), axis=1)
            score = macro_f1(self.y_val, pred, self.n_classes)
            if logs is not None:
                logs["val_macro_f1"] = score
            print(f"  val_macro_f1 {score:.4f}" + ("  (best)" if score > self.best else ""), flush=True)
            if score > self.best:
                self.best, self.best_epoch, self.wait = score, epoch + 1, 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return MacroF1EarlyStopping


def fit(model, q_train: np.ndarray, y_train: np.ndarray, q_val: np.ndarray, y_val: np.ndarray,
        cfg: TrainConfig = TrainConfig()) -> TrainResult:
    """Compile and fit ``model`` (built by :func:`convert.models.build_model`) in place."""
    import keras

    keras.utils.set_random_seed(cfg.seed)
    n_classes = int(model.output_shape[-1])
    weights = class_weights(y_train, n_classes) if cfg.class_weighting else np.ones(n_classes)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = _batches_class()(q_train, y_train, weights, cfg.batch_size, cfg.seed, cfg.spec_augment)
    x_val = to_model_input(q_val)
    stopper = _early_stopping_class()(x_val, np.asarray(y_val), n_classes, cfg.patience)
    lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-5, verbose=0)
    # The average (when on) goes first: the stopper then validates and keeps averaged weights.
    # ReduceLROnPlateau reads Keras's own val_loss, computed with the raw weights.
    averager = [_weight_average_class()(cfg.weight_average)] if cfg.weight_average > 0 else []
    t0 = time.time()
    hist = model.fit(data, validation_data=(x_val, np.asarray(y_val)), epochs=cfg.epochs,
                     callbacks=[*averager, stopper, lr], verbose=cfg.verbose)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return TrainResult(model=model, history=history, best_epoch=stopper.best_epoch,
                       best_val_macro_f1=float(stopper.best), seconds=time.time() - t0)


def plot_curves(history: dict, path: str | Path, title: str = "training") -> Path:
    """Loss and accuracy / validation macro-F1 per epoch → PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ep = np.arange(1, len(history.get("loss", [])) + 1)
    for key in ("loss", "val_loss"):
        if key in history:
            a1.plot(ep, history[key], label=key)
    a1.set_xlabel("epoch"), a1.set_ylabel("cross-entropy"), a1.legend()
    for key in ("accuracy", "val_accuracy", "val_macro_f1"):
        if key in history:
            a2.plot(ep, history[key], label=key)
    a2.set_xlabel("epoch"), a2.set_ylim(0, 1.01), a2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


# ---------------------------------------------------------------- CLI

def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a CNN or CRNN on a data directory and write a bundle",
                              description="Train on WAV + label files, quantise to verified int8, write a bundle.")
    p.add_argument("--data", required=True, help="data directory (WAV/EDF/WFDB + same-stem label files)")
    p.add_argument("--val-data", help="separate validation directory (default: split --data by recording)")
    p.add_argument("--model", choices=("cnn", "crnn"), default="cnn",
                   help="cnn (the shipped default) or crnn (conv blocks + per-gate GRU over 12 steps)")
    p.add_argument("--rnn", choices=("gru_gates", "lstm_gates", "tcn"),
                   help="CRNN temporal layer (default gru_gates; all three export verified int8)")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    p.add_argument("--patience", type=int, default=TrainConfig.patience)
    from convert.models import ModelConfig

    p.add_argument("--dropout", type=float, default=ModelConfig.dropout,
                   help=f"dropout before the classifier (default {ModelConfig.dropout}: docs/TRAINING.md, "
                        "dropout and initialisation over seeds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment-copies", type=int, default=1,
                   help="copies of each training recording through a random recording chain (convert.chain: "
                        "filters, rate, gain error, polarity, hum, noise, clipping, scale)")
    p.add_argument("--weight-average", type=float, default=TrainConfig.weight_average, metavar="DECAY",
                   help="per-step decay of a moving average of the weights, which is validated and exported "
                        "instead of the raw weights (0 = off; docs/TRAINING.md, weight averaging)")
    p.add_argument("--no-class-weights", action="store_true")
    p.add_argument("--voluntary-weight", type=float, default=VOLUNTARY_WEIGHT, metavar="W",
                   help="class prior on voluntary activity the bundle decides with (edge.runtime.prior; "
                        f"{MIN_WEIGHT:g}-{MAX_WEIGHT:g}, 1 = none; default {VOLUNTARY_WEIGHT:g})")
    p.add_argument("--no-specaugment", action="store_true")
    p.add_argument("--window-s", type=float, default=1.0)
    p.add_argument("--hop-s", type=float, default=0.25)
    p.add_argument("--sample-rate", type=int, default=44100, help="model rate in Hz (recordings are resampled)")
    p.add_argument("--min-rate", type=int, default=4000, help="lowest input rate the bundle accepts (Hz)")
    p.add_argument("--cache", help="feature cache directory (default: OUT/../.featcache)")
    p.add_argument("--quiet", action="store_true")
    from convert.datadir import add_channel_option

    add_channel_option(p)
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from clikit import UserError

    from convert import trainset
    from convert.models import ModelConfig

    out = Path(args.out)
    data = Path(args.data)
    if not data.is_dir():
        raise UserError(f"--data {data} is not a directory")
    # before reading any data: a bad option fails at once, with its range
    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                       patience=args.patience, seed=args.seed, class_weighting=not args.no_class_weights,
                       spec_augment=not args.no_specaugment, verbose=0 if args.quiet else 2,
                       weight_average=args.weight_average)
    if not MIN_WEIGHT <= args.voluntary_weight <= MAX_WEIGHT:
        raise UserError(f"--voluntary-weight {args.voluntary_weight:g} is out of range: "
                        f"allowed {MIN_WEIGHT:g}..{MAX_WEIGHT:g}")
    fe_cfg = trainset.default_frontend_config(args.sample_rate)
    wcfg = trainset.window_config(args.window_s, args.hop_s)
    cache = trainset.open_cache(args.cache or (out.parent / ".featcache"))
    train_recs, val_recs = trainset.load_train_val(data, args.val_data, fe_cfg.sample_rate, args.min_rate,
                                                   val_fraction=0.2, seed=args.seed, channel=args.channel)
    print(f"train: {len(train_recs)} recordings, validation: {len(val_recs)}", flush=True)
    tr = trainset.features(train_recs, fe_cfg, wcfg, cache=cache, augment_copies=args.augment_copies,
                           seed=args.seed)
    va = trainset.features(val_recs, fe_cfg, wcfg, cache=cache)
    quant = trainset.fit_quantizer(tr.X)
    if args.rnn and args.model != "crnn":
        raise UserError(f"--rnn {args.rnn} needs --model crnn")
    model_cfg = ModelConfig.default(args.model, dropout=args.dropout, **({"rnn": args.rnn} if args.rnn else {}))
    result = train_and_export(out, tr, va, quant, model_cfg, tcfg, fe_cfg, wcfg, args.min_rate,
                              data_summary={"train_dir": str(data), "val_dir": args.val_data,
                                            "train": tr.summary(), "val": va.summary()},
                              voluntary_weight=args.voluntary_weight)
    from convert.openset import add_open_set

    add_open_set(out, tr.X, tr.y, va.X, va.y)
    print(json.dumps({"bundle": str(out), "val_macro_f1": round(result.best_val_macro_f1, 4),
                      "best_epoch": result.best_epoch}), flush=True)
    return 0


def train_and_export(out: Path, tr, va, quant, model_cfg, tcfg: TrainConfig, fe_cfg, wcfg, min_rate: int,
                     data_summary: dict, extra_training: dict | None = None, base_model=None,
                     uv_per_lsb: float = 0.5, voluntary_weight: float = VOLUNTARY_WEIGHT,
                     decision_prior: dict | None = None) -> TrainResult:
    """Train (or continue ``base_model``), write the curve PNG and the bundle with val metrics.

    ``uv_per_lsb``: µV per LSB the features of ``tr``/``va`` were computed at (the windowing's
    target scale); recorded in the bundle as ``input.uv_per_lsb``. ``voluntary_weight``: the
    bundle's class prior on ``voluntary_muap`` (:data:`VOLUNTARY_WEIGHT`; 1 = none);
    ``decision_prior`` (label → factor), when given, is the prior instead (``{}``: none), e.g. a
    fine-tuned bundle's base's.
    """
    from convert.export import export_bundle
    from convert.models import build_model
    from convert.taxonomy import LABELS, PATHOLOGICAL

    qtr, qva = quant(tr.X), quant(va.X)
    model = base_model if base_model is not None else build_model(qtr.shape[1:], len(LABELS), model_cfg,
                                                                  seed=tcfg.seed)
    result = fit(model, qtr, tr.y, qva, va.y, tcfg)
    out.mkdir(parents=True, exist_ok=True)
    plot_curves(result.history, out / "training_curve.png", title=f"{model_cfg.arch} seed {tcfg.seed}")
    training = {
        "config": asdict(tcfg), "seed": tcfg.seed, "best_epoch": result.best_epoch,
        "val_macro_f1": round(result.best_val_macro_f1, 6), "seconds": round(result.seconds, 1),
        "data": data_summary, **(extra_training or {}),
    }
    prior = dict(decision_prior) if decision_prior is not None else recipe_prior(voluntary_weight)
    export_bundle(out, model=model, model_cfg=model_cfg, representative=to_model_input(qtr), quantizer=quant,
                  frontend_cfg=fe_cfg, window=wcfg_dict(wcfg, tr.X.shape[1], fe_cfg), labels=LABELS,
                  pathological=PATHOLOGICAL, min_sample_rate=min_rate, training=training,
                  isolate=model_cfg.arch == "crnn", uv_per_lsb=uv_per_lsb,
                  decision_prior=prior or None)
    return result


def wcfg_dict(wcfg, window_frames: int, fe_cfg) -> dict:
    """Manifest window entry: seconds and front-end frames (hop rounded to whole frames)."""
    hop_frames = max(1, int(round(wcfg.hop_s * 1000.0 / fe_cfg.hop_ms)))
    return {"window_s": float(wcfg.window_s), "hop_s": float(wcfg.hop_s),
            "window_frames": int(window_frames), "hop_frames": hop_frames}
