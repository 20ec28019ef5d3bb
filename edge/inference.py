"""int8 inference on one window of front-end features.

The mapping from the front-end's integer features to the model's int8 input is an integer
rule recorded in the bundle manifest (``input.feature_to_int8``), so a firmware engineer can
reproduce it bit for bit::

    d = clip(f - offset, 0, span)                       # int32, f = front-end feature
    q = ((d * mul + (1 << (shift - 1))) >> shift) - 128  # int32, round half up
    q = clip(q, -128, 127)                               # int8

``offset`` and ``span`` are front-end feature units (the range seen in training, 0.05th to
99.95th percentile); ``mul = floor(255 * 2**shift / span)`` so ``d = span`` maps to at most
127. ``span * mul < 2**31`` is checked, so the product fits int32.

Training feeds the float network ``q / 128`` (:data:`MODEL_INPUT_SCALE`, zero point 0): the
float model and the int8 model see the same grid, and the int8 model's input quantisation
is (1/128, 0), so ``q`` is fed to it unchanged. A model with other input quantisation is
fed ``clip(round(q / 128 / scale) + zero_point)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edge.bundle import Bundle
from edge.litert import make_interpreter

#: The float network's input is ``q * MODEL_INPUT_SCALE`` (q = int8 feature).
MODEL_INPUT_SCALE = 1.0 / 128.0


@dataclass(frozen=True)
class FeatureQuantizer:
    """Integer rule front-end feature → int8 (see module docstring). All fields integers."""

    offset: int
    span: int
    mul: int
    shift: int = 16

    def __post_init__(self) -> None:
        for name in ("offset", "span", "mul", "shift"):
            if not isinstance(getattr(self, name), (int, np.integer)):
                raise ValueError(f"FeatureQuantizer.{name} must be an integer, got {getattr(self, name)!r}")
        if not 1 <= self.shift <= 24:
            raise ValueError(f"FeatureQuantizer.shift {self.shift} out of range [1, 24]")
        if self.span < 1:
            raise ValueError(f"FeatureQuantizer.span {self.span} must be >= 1")
        if self.mul < 1 or self.span * self.mul + (1 << (self.shift - 1)) >= 2**31:
            raise ValueError(
                f"FeatureQuantizer.mul {self.mul} out of range: need 1 <= mul and span*mul < 2**31"
            )
        if ((self.span * self.mul + (1 << (self.shift - 1))) >> self.shift) > 255:
            raise ValueError(f"FeatureQuantizer.mul {self.mul} maps span {self.span} above 255")

    @classmethod
    def from_range(cls, lo: int, hi: int, shift: int = 16) -> "FeatureQuantizer":
        """Map feature values ``lo..hi`` (integers, lo < hi) onto the whole int8 range."""
        lo, hi = int(lo), int(hi)
        if hi <= lo:
            raise ValueError(f"feature range [{lo}, {hi}] is empty")
        span = hi - lo
        return cls(offset=lo, span=span, mul=(255 << shift) // span, shift=shift)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureQuantizer":
        return cls(offset=int(d["offset"]), span=int(d["span"]), mul=int(d["mul"]), shift=int(d["shift"]))

    def to_dict(self) -> dict:
        d = {k: int(v) for k, v in asdict(self).items()}
        d["rule"] = ("q = clip(((clip(f - offset, 0, span) * mul + (1 << (shift - 1))) >> shift) - 128, "
                     "-128, 127); int32 arithmetic")
        return d

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        """Front-end integer features (any shape) → int8 of the same shape."""
        f = np.asarray(feats)
        if not np.issubdtype(f.dtype, np.integer):
            raise ValueError(f"features must be integers from edge.frontend, got dtype {f.dtype}")
        d = np.clip(f.astype(np.int64) - self.offset, 0, self.span).astype(np.int32)
        q = ((d * np.int32(self.mul) + np.int32(1 << (self.shift - 1))) >> self.shift) - 128
        return np.clip(q, -128, 127).astype(np.int8)


class _Model:
    """One LiteRT model of a bundle with its feature → int8 rule and output dequantisation."""

    def __init__(self, path, quantizer: FeatureQuantizer, expected: tuple[int, int], which: str,
                 xnnpack: bool, num_threads: int):
        self.which = which
        self.quantizer = quantizer
        self.interpreter = make_interpreter(str(path), num_threads=num_threads, xnnpack=xnnpack)
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        shape = tuple(int(s) for s in self._in["shape"])
        self.input_shape = shape
        if int(np.prod(shape[1:])) != expected[0] * expected[1]:
            raise ValueError(f"model input shape {shape} does not fit window {expected} of the manifest")
        self._in_scale, self._in_zp = (float(self._in["quantization"][0]), int(self._in["quantization"][1]))
        self._out_scale, self._out_zp = (float(self._out["quantization"][0]), int(self._out["quantization"][1]))
        self._direct = which == "int8" and self._in["dtype"] == np.int8 and \
            abs(self._in_scale - MODEL_INPUT_SCALE) < 1e-9 and self._in_zp == 0

    def model_input(self, w: np.ndarray) -> np.ndarray:
        q = self.quantizer(w)
        if self.which == "float" or self._in["dtype"] == np.float32:
            x = q.astype(np.float32) * np.float32(MODEL_INPUT_SCALE)
        elif self._direct:
            x = q
        else:  # generic requantisation for a model calibrated to another input range
            x = np.clip(np.round(q * MODEL_INPUT_SCALE / self._in_scale) + self._in_zp, -128, 127).astype(np.int8)
        return x.reshape(self.input_shape)

    def predict_raw(self, w: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self._in["index"], self.model_input(w))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out["index"]).reshape(-1).copy()

    def predict(self, w: np.ndarray) -> np.ndarray:
        raw = self.predict_raw(w)
        if raw.dtype == np.int8:
            return ((raw.astype(np.float32) - self._out_zp) * self._out_scale).astype(np.float32)
        return raw.astype(np.float32)


class TFLiteClassifier:
    """One window of front-end features → class probabilities, with a bundle's model.

    ``which="int8"`` runs ``model.tflite`` (what the device runs); ``which="float"`` runs the
    float twin on the same int8 feature grid (for measuring quantisation loss).
    ``xnnpack=False`` uses the built-in kernels without delegates (bit-exact, reproducible).

    An ensemble bundle (:attr:`edge.bundle.Bundle.members`) runs every member model on the
    window (each with its own feature → int8 rule) and returns the weighted mean of their
    dequantised probabilities (float32; weights sum to 1). ``interpreter``, ``model_input``
    and ``predict_raw`` are the first member's (``predict_raw`` refuses an ensemble: it has no
    single raw output); ``models`` lists all.
    """

    def __init__(self, bundle: Bundle, xnnpack: bool = False, num_threads: int = 1, which: str = "int8"):
        if which not in ("int8", "float"):
            raise ValueError(f"which must be 'int8' or 'float', got {which!r}")
        self.bundle = bundle
        self.which = which
        expected = (bundle.window_frames, bundle.frontend_config.n_mels)
        self.models = [_Model(m.path if which == "int8" else m.float_path, FeatureQuantizer.from_dict(m.feature_to_int8),
                              expected, which, xnnpack, num_threads) for m in bundle.members]
        self.weights = np.array([m.weight for m in bundle.members], np.float32)
        first = self.models[0]
        self.quantizer, self.interpreter, self.input_shape = first.quantizer, first.interpreter, first.input_shape
        self._in, self._out = first._in, first._out

    def _check(self, window_feats: np.ndarray) -> np.ndarray:
        w = np.asarray(window_feats)
        expected = (self.bundle.window_frames, self.bundle.frontend_config.n_mels)
        if w.shape != expected:
            raise ValueError(f"window must have shape {expected} (frames, n_mels), got {w.shape}")
        return w

    def model_input(self, window_feats: np.ndarray) -> np.ndarray:
        """The exact tensor fed to the (first) model for one window (int8 or float32)."""
        return self.models[0].model_input(self._check(window_feats))

    def predict_raw(self, window_feats: np.ndarray) -> np.ndarray:
        """Raw model output for one window: int8 for the int8 model, float32 for the float one."""
        if len(self.models) > 1:
            raise ValueError(f"bundle {self.bundle.model_id} is an ensemble of {len(self.models)} models: "
                             "it has no single raw output; use predict")
        return self.models[0].predict_raw(self._check(window_feats))

    def predict(self, window_feats: np.ndarray) -> np.ndarray:
        """Class probabilities (float32, ``n_classes``, bundle label order) for one window."""
        w = self._check(window_feats)
        if len(self.models) == 1:
            return self.models[0].predict(w)
        # weighted mean in float32: each member's probabilities are int8 steps of 1/256
        out = np.zeros(self.bundle.n_classes, np.float32)
        for model, weight in zip(self.models, self.weights):
            out += weight * model.predict(w)
        return out

    def predict_many(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities for ``(n, frames, n_mels)`` windows → ``(n, n_classes)``."""
        return np.stack([self.predict(w) for w in windows]) if len(windows) else \
            np.zeros((0, self.bundle.n_classes), np.float32)


class Int8Classifier(TFLiteClassifier):
    """The device's classifier: ``Int8Classifier(bundle).predict(window) -> probs``."""

    def __init__(self, bundle: Bundle, xnnpack: bool = False, num_threads: int = 1):
        super().__init__(bundle, xnnpack=xnnpack, num_threads=num_threads, which="int8")
