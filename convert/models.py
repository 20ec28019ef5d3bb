"""Compact detectors on windows of front-end features: a CNN and a CRNN (Keras).

Both take one window ``(frames, n_mels)`` of int8-grid features as float (``q / 128``, see
:mod:`edge.inference`) and output class probabilities (softmax). Weights are He-initialised
(``he_normal``, or Glorot-uniform with ``init="glorot_uniform"``) for training from scratch;
dropout sits before the classifier, and ``spatial_dropout`` (whole feature maps, Keras
``SpatialDropout2D``) optionally after each convolution block. Batch
normalisation is used in training and folded into the preceding convolution at export
(:func:`fold_batchnorm`), so the exported graph has no separate scale/shift ops.

The CRNN's temporal layer runs over the pooled time axis. Which recurrence converts to
full int8 is a converter question (edge-pipelines.md §5, docs/TRAINING.md compares routes):
Keras 3 GRU/LSTM lower to a WHILE loop that crashes full-int8 conversion, and unrolled
(``unroll=True``) they compute all gates with one fused kernel and SPLIT the result, a SPLIT
the converter left in float once trained. The CRNN therefore writes its cell out as a
functional sub-graph with one Dense layer per gate (``rnn="gru_gates"``, the default, or
``"lstm_gates"``), so there is nothing to split; ``rnn="tcn"`` is the convolutional
alternative (dilated causal Conv1D over the steps). The per-gate GRU is the default since the
issue-16 comparison (docs/TRAINING.md, 6 seeds): it kept int8/float agreement ≥ 0.98 on every
seed where the per-gate LSTM did not, and scored higher int8 macro-F1 at the same budget.

SpecAugment-style masking (:func:`spec_augment`) is applied to training batches in numpy,
outside the graph, so nothing of it can leak into the exported model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ARCHITECTURES = ("cnn", "crnn")
#: Temporal layers of the CRNN: Keras GRU/LSTM (fused gate kernel; ``rnn_unroll`` applies),
#: the same cells with one Dense layer per gate (always unrolled), a dilated causal TCN.
RECURRENT = ("gru", "lstm", "lstm_gates", "gru_gates", "tcn")
#: Dilations of the TCN's causal convolutions (kernel 3): receptive field 1 + 2·(1+2+4) = 15
#: steps, more than the 12 pooled steps of the default CRNN.
TCN_DILATIONS = (1, 2, 4)
#: CNN pooling heads: global average, or average and max concatenated (a single potential in a
#: quiet window, e.g. a fasciculation, survives max pooling but is diluted by averaging).
HEADS = ("avg", "avgmax")
#: Initialisers of the convolution, TCN and classifier kernels (the recurrent cells keep Keras'
#: Glorot-uniform input and orthogonal recurrent kernels whatever this says).
INITIALISERS = ("he_normal", "glorot_uniform")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters.

    ``widths``: output channels of the convolution blocks (each block: 3×3 conv, batch norm,
    ReLU, max-pool). ``pools``: (time, mel) pooling after each block. ``dropout`` in [0, 0.9).
    ``rnn_units`` / ``rnn`` / ``rnn_unroll`` only for the CRNN (``rnn`` in :data:`RECURRENT`;
    ``rnn_units`` is the TCN's channel count for ``"tcn"``; ``rnn_unroll=False`` gives the
    WHILE-loop graph that full-int8 conversion cannot take, kept for the route comparison);
    ``head`` (global pooling) only for the CNN. ``init``: kernel initialiser of the convolution,
    TCN and classifier layers (:data:`INITIALISERS`; one seed per layer from the build seed).
    ``spatial_dropout`` in [0, 0.9): rate of ``SpatialDropout2D`` (drops whole channels) after
    each convolution block, 0 = none. Both dropouts are training-only: the exported graph has
    neither (:func:`fold_batchnorm`; Keras runs them as identity at inference).
    """

    arch: str = "cnn"
    widths: tuple[int, ...] = (16, 32, 48, 64)
    pools: tuple[tuple[int, int], ...] = ((2, 2), (2, 2), (2, 2), (1, 1))
    # 0 since issue 16's sweep: over 6 seeds no dropout beat 0.3 on every held-out recording
    # condition (int8 macro-F1 +0.09, sign-flip p 0.031), on a short 7-epoch budget (docs/TRAINING.md)
    dropout: float = 0.0
    batchnorm: bool = True
    rnn: str = "lstm"  # measured: smaller and faster than GRU unrolled (docs/TRAINING.md)
    rnn_units: int = 32
    rnn_unroll: bool = True
    head: str = "avgmax"
    init: str = "he_normal"
    spatial_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch {self.arch!r} not one of {ARCHITECTURES}")
        if not self.widths or any(int(w) < 1 or int(w) > 512 for w in self.widths):
            raise ValueError(f"widths {self.widths} must be 1..512 channels per block")
        if len(self.pools) != len(self.widths):
            raise ValueError(f"pools {self.pools} need one (time, mel) pair per width ({len(self.widths)})")
        if not 0.0 <= self.dropout < 0.9:
            raise ValueError(f"dropout {self.dropout} out of range [0, 0.9)")
        if not 0.0 <= self.spatial_dropout < 0.9:
            raise ValueError(f"spatial_dropout {self.spatial_dropout} out of range [0, 0.9)")
        if self.init not in INITIALISERS:
            raise ValueError(f"init {self.init!r} not one of {INITIALISERS}")
        if self.rnn not in RECURRENT:
            raise ValueError(f"rnn {self.rnn!r} not one of {RECURRENT}")
        if self.head not in HEADS:
            raise ValueError(f"head {self.head!r} not one of {HEADS}")
        if not 1 <= self.rnn_units <= 256:
            raise ValueError(f"rnn_units {self.rnn_units} out of range [1, 256]")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "pools", tuple((int(a), int(b)) for a, b in self.pools))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        d["pools"] = [list(p) for p in self.pools]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        d["widths"] = tuple(d.get("widths", cls.widths))
        d["pools"] = tuple(tuple(p) for p in d.get("pools", cls.pools))
        return cls(**d)

    @classmethod
    def default(cls, arch: str, **overrides: Any) -> "ModelConfig":
        """Defaults per architecture (the CRNN keeps more time resolution for its recurrence)."""
        if arch == "crnn":
            # per-gate Dense GRU: verified int8 and the best int8 fidelity (docs/TRAINING.md)
            base = dict(arch="crnn", widths=(16, 32, 48), pools=((2, 2), (2, 2), (2, 4)), rnn="gru_gates")
        else:
            base = dict(arch="cnn")
        base.update(overrides)
        return cls(**base)


def _keras(K: Any | None) -> Any:
    if K is None:
        import keras as K  # noqa: N812 - the Keras module (keras 3 or tf_keras) is a parameter
    return K


def build_model(input_shape: tuple[int, int], n_classes: int, cfg: ModelConfig, seed: int = 0,
                K: Any | None = None, batch_size: int | None = None):
    """Build an uncompiled Keras model for ``(frames, n_mels)`` windows.

    ``K`` is the Keras module (default ``keras``; pass ``tf_keras`` for the legacy route).
    ``batch_size`` fixes the batch dimension (None = any).
    """
    K = _keras(K)
    L = K.layers
    frames, n_mels = int(input_shape[0]), int(input_shape[1])
    kernel_init = _initialiser(K, cfg.init)
    init = lambda i: kernel_init(seed=seed + i)  # noqa: E731 - one seed per layer
    inp = K.Input(shape=(frames, n_mels), batch_size=batch_size, name="features")
    x = L.Reshape((frames, n_mels, 1), name="to_image")(inp)
    for i, (w, pool) in enumerate(zip(cfg.widths, cfg.pools)):
        x = L.Conv2D(w, 3, padding="same", use_bias=not cfg.batchnorm, kernel_initializer=init(i),
                     name=f"conv{i}")(x)
        if cfg.batchnorm:
            # momentum 0.9: running statistics settle within a few dozen steps (small data sets)
            x = L.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = L.ReLU(name=f"relu{i}")(x)
        if pool != (1, 1):
            x = L.MaxPooling2D(pool, name=f"pool{i}")(x)
        if cfg.spatial_dropout > 0:
            x = L.SpatialDropout2D(cfg.spatial_dropout, seed=seed + 210 + i, name=f"spatial_dropout{i}")(x)
    if cfg.arch == "cnn":
        avg = L.GlobalAveragePooling2D(name="gap")(x)
        x = L.Concatenate(name="avgmax")([avg, L.GlobalMaxPooling2D(name="gmp")(x)]) if cfg.head == "avgmax" else avg
    else:
        t, f, c = (int(s) for s in x.shape[1:])
        x = L.Reshape((t, f * c), name="to_sequence")(x)
        if cfg.rnn == "tcn":
            x = _tcn(K, x, cfg.rnn_units, seed, kernel_init)
        elif cfg.rnn.endswith("_gates"):
            x = _gated_cell(K, x, cfg.rnn[:-len("_gates")], cfg.rnn_units, seed)
        else:
            rnn_cls = L.GRU if cfg.rnn == "gru" else L.LSTM
            kwargs = dict(unroll=cfg.rnn_unroll, name="rnn",
                          kernel_initializer=K.initializers.GlorotUniform(seed=seed + 100))
            if cfg.rnn == "gru":
                kwargs["reset_after"] = True
            x = rnn_cls(cfg.rnn_units, **kwargs)(x)
    if cfg.dropout > 0:
        x = L.Dropout(cfg.dropout, seed=seed + 200, name="dropout")(x)
    out = L.Dense(n_classes, activation="softmax", kernel_initializer=kernel_init(seed=seed + 300),
                  name="classifier")(x)
    return K.Model(inp, out, name=f"emg_{cfg.arch}")


def _initialiser(K, name: str):
    """The Keras initialiser class of :data:`INITIALISERS` ``name``."""
    return {"he_normal": K.initializers.HeNormal, "glorot_uniform": K.initializers.GlorotUniform}[name]


def _last_step(K, x, t: int, name: str):
    """Step ``t`` of a ``(batch, steps, features)`` sequence as ``(batch, features)`` (a
    STRIDED_SLICE + RESHAPE in the converted graph; the int8 scale passes through)."""
    steps, feats = int(x.shape[1]), int(x.shape[2])
    x = K.layers.Cropping1D((t, steps - t - 1), name=f"{name}_crop")(x)
    return K.layers.Reshape((feats,), name=name)(x)


def _gated_cell(K, seq, cell: str, units: int, seed: int):
    """An LSTM or GRU unrolled over the steps of ``seq``, one Dense layer per gate.

    Same equations as Keras' cells (LSTM: i, f, g, o with c = f·c + i·g, h = o·tanh(c);
    GRU with reset after the recurrent product: h = z·h + (1 − z)·n, recurrent products
    without bias), but every gate has its own input and recurrent Dense layers, shared over
    the steps. Keras' fused kernel computes all gates in one product and SPLITs it; a trained
    model's SPLIT was left in float by the converter (docs/TRAINING.md); here there is nothing
    to split. At step 0 the state is zero,
    so the recurrent products are omitted. Sigmoid and tanh map to LOGISTIC and TANH, which
    have int8 kernels.
    """
    L = K.layers
    gates = ("i", "f", "g", "o") if cell == "lstm" else ("z", "r", "n")
    init = K.initializers.GlorotUniform
    rec = K.initializers.Orthogonal
    # forget-gate bias 1, as Keras' unit_forget_bias: remember by default early in training
    wx = {g: L.Dense(units, kernel_initializer=init(seed=seed + 100 + k), name=f"rnn_x{g}",
                     bias_initializer="ones" if g == "f" else "zeros")
          for k, g in enumerate(gates)}
    wh = {g: L.Dense(units, use_bias=False, kernel_initializer=rec(seed=seed + 110 + k), name=f"rnn_h{g}")
          for k, g in enumerate(gates)}
    act = {g: ("tanh" if g in ("g", "n") else "sigmoid") for g in gates}
    h = c = None
    for t in range(int(seq.shape[1])):
        xt = _last_step(K, seq, t, f"rnn_x{t}")
        pre = {g: wx[g](xt) for g in gates}
        if h is None:
            if cell == "lstm":
                a = {g: L.Activation(act[g], name=f"rnn_{g}{t}")(pre[g]) for g in ("i", "g", "o")}
                c = L.Multiply(name=f"rnn_c{t}")([a["i"], a["g"]])
                h = L.Multiply(name=f"rnn_h{t}")([a["o"], L.Activation("tanh", name=f"rnn_tc{t}")(c)])
            else:  # h = (1 − z)·n = n − z·n
                z = L.Activation("sigmoid", name=f"rnn_z{t}")(pre["z"])
                n = L.Activation("tanh", name=f"rnn_n{t}")(pre["n"])
                h = L.Subtract(name=f"rnn_h{t}")([n, L.Multiply(name=f"rnn_zn{t}")([z, n])])
            continue
        if cell == "lstm":
            a = {g: L.Activation(act[g], name=f"rnn_{g}{t}")(L.Add(name=f"rnn_p{g}{t}")([pre[g], wh[g](h)]))
                 for g in gates}
            c = L.Add(name=f"rnn_c{t}")([L.Multiply(name=f"rnn_fc{t}")([a["f"], c]),
                                         L.Multiply(name=f"rnn_ig{t}")([a["i"], a["g"]])])
            h = L.Multiply(name=f"rnn_h{t}")([a["o"], L.Activation("tanh", name=f"rnn_tc{t}")(c)])
        else:
            h = _gru_step(L, pre, wh, h, t)
    return h


def _gru_step(L, pre, wh, h, t):
    """One GRU step (reset after the recurrent product) from the input pre-activations ``pre``."""
    z = L.Activation("sigmoid", name=f"rnn_z{t}")(L.Add(name=f"rnn_pz{t}")([pre["z"], wh["z"](h)]))
    r = L.Activation("sigmoid", name=f"rnn_r{t}")(L.Add(name=f"rnn_pr{t}")([pre["r"], wh["r"](h)]))
    n = L.Activation("tanh", name=f"rnn_n{t}")(
        L.Add(name=f"rnn_pn{t}")([pre["n"], L.Multiply(name=f"rnn_rh{t}")([r, wh["n"](h)])]))
    # h = z·h + (1 − z)·n = n + z·(h − n)
    return L.Add(name=f"rnn_h{t}")([n, L.Multiply(name=f"rnn_zd{t}")([z, L.Subtract(name=f"rnn_d{t}")([h, n])])])


def _tcn(K, seq, channels: int, seed: int, kernel_init=None):
    """Dilated causal Conv1D stack (kernel 3, :data:`TCN_DILATIONS`, ReLU) over the steps;
    the last step, which sees the whole window, is the output."""
    kernel_init = kernel_init or K.initializers.HeNormal
    x = seq
    for i, d in enumerate(TCN_DILATIONS):
        x = K.layers.Conv1D(channels, 3, padding="causal", dilation_rate=d, activation="relu",
                            kernel_initializer=kernel_init(seed=seed + 120 + i), name=f"tcn{i}")(x)
    return _last_step(K, x, int(x.shape[1]) - 1, "tcn_last")


def fold_batchnorm(model, cfg: ModelConfig, K: Any | None = None):
    """An equivalent inference model without BatchNormalization layers.

    Each ``conv{i}`` → ``bn{i}`` pair becomes one convolution with
    ``W' = W·γ/√(σ²+ε)`` and ``b' = β − μ·γ/√(σ²+ε)`` (+ the conv bias scaled likewise).
    Dropout and spatial dropout are dropped too (identity at inference). Returns ``model``
    itself if it has no BN.
    """
    if not cfg.batchnorm:
        return model
    K = _keras(K)
    frames, n_mels = (int(s) for s in model.input_shape[1:3])
    n_classes = int(model.output_shape[-1])
    folded_cfg = ModelConfig(**{**asdict(cfg), "batchnorm": False, "dropout": 0.0, "spatial_dropout": 0.0})
    batch = model.input_shape[0]  # a fixed batch (tf_keras route) must survive the rebuild
    folded = build_model((frames, n_mels), n_classes, folded_cfg, K=K, batch_size=batch)
    for layer in folded.layers:
        name = layer.name
        if name.startswith("conv"):
            src = model.get_layer(name).get_weights()
            kernel = src[0]
            bias = src[1] if len(src) > 1 else np.zeros(kernel.shape[-1], kernel.dtype)
            bn = model.get_layer("bn" + name[4:])
            gamma, beta, mean, var = bn.get_weights()
            scale = gamma / np.sqrt(var + bn.epsilon)
            layer.set_weights([kernel * scale, (bias - mean) * scale + beta])
        elif layer.weights:
            layer.set_weights(model.get_layer(name).get_weights())
    return folded


def spec_augment(batch: np.ndarray, rng: np.random.Generator, time_masks: int = 2, max_time: int = 8,
                 freq_masks: int = 2, max_freq: int = 8) -> np.ndarray:
    """SpecAugment-style masking of a ``(n, frames, n_mels)`` float batch (a copy is returned).

    Each window gets ``time_masks`` spans of up to ``max_time`` frames and ``freq_masks``
    bands of up to ``max_freq`` mel channels set to that window's minimum (the quiet floor).
    Time masks stay short: a pathological rhythm must remain visible in the window.
    """
    out = np.array(batch, dtype=np.float32, copy=True)
    n, frames, n_mels = out.shape
    floors = out.reshape(n, -1).min(axis=1)
    for i in range(n):
        for _ in range(time_masks):
            w = int(rng.integers(0, max_time + 1))
            if w:
                t0 = int(rng.integers(0, max(frames - w, 1)))
                out[i, t0:t0 + w, :] = floors[i]
        for _ in range(freq_masks):
            w = int(rng.integers(0, max_freq + 1))
            if w:
                f0 = int(rng.integers(0, max(n_mels - w, 1)))
                out[i, :, f0:f0 + w] = floors[i]
    return out


def count_params(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.weights))


__all__ = ["ModelConfig", "build_model", "fold_batchnorm", "spec_augment", "count_params"]
