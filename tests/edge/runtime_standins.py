"""Small stand-ins for the runtime tests: an energy front-end and a threshold classifier.

They let the pipeline, service and durability tests run without a trained model: a burst of
large samples is "fibrillation", anything else "rest". They fill the runtime's roles
(:mod:`edge.runtime.roles`) and the bundle is a real :class:`edge.bundle.Bundle` built by its
own constructor. Not shipped; tests only.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np

from edge.bundle import Bundle
from edge.frontend import FrontendConfig

LABELS = ("rest", "voluntary_muap", "fibrillation", "fasciculation")
PATHOLOGICAL = frozenset({"fibrillation", "fasciculation"})


class EnergyFrontend:
    """A FeatureFrontend: streaming frames of ``[mean |x|, 0]`` (int32), edge.frontend's framing."""

    dtype = np.int32
    kernel = "energy stand-in (tests)"

    def __init__(self, cfg: FrontendConfig) -> None:
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros(0, np.int16)

    def process(self, pcm: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._buf, np.asarray(pcm, np.int16)])
        L, H = self.cfg.frame_length, self.cfg.hop_length
        n = 0 if buf.size < L else 1 + (buf.size - L) // H
        out = np.zeros((n, 2), np.int32)
        for i in range(n):
            out[i, 0] = int(np.abs(buf[i * H:i * H + L].astype(np.int32)).mean())
        self._buf = buf[n * H:]
        return out


class ThresholdClassifier:
    """``fibrillation`` with probability 0.9 when the window's loudest frame exceeds ``level``."""

    def __init__(self, level: int = 1000, label: str = "fibrillation", delay_s: float = 0.0) -> None:
        self.level = level
        self.delay_s = delay_s  # a slow model: lets a test keep the host behind the unit
        self.index = LABELS.index(label)
        self.calls = 0

    def predict(self, window: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        p = np.full(len(LABELS), 0.1 / (len(LABELS) - 1), np.float32)
        hot = int(window[:, 0].max()) > self.level
        p[self.index if hot else 0] = 0.9
        return p


def standin_bundle(sample_rate: int = 8000, min_sample_rate: int = 6000, window_frames: int = 98,
                   hop_frames: int = 25) -> Bundle:
    """A model-less bundle for the stand-ins: 1 s windows (98 frames of 10 ms + 25 ms), 0.25 s hop,
    two bands, no files (so no open-set guard)."""
    fcfg = FrontendConfig(sample_rate=sample_rate, window_ms=25.0, hop_ms=10.0, n_mels=2, fmin_hz=20.0,
                          fmax_hz=sample_rate / 2)
    window = {"window_s": 1.0, "hop_s": 0.25, "window_frames": window_frames, "hop_frames": hop_frames}
    model_id = "standin-energy-v0"
    manifest = {"model_id": model_id, "labels": list(LABELS), "pathological": sorted(PATHOLOGICAL),
                "window": window, "sample_rate": sample_rate, "min_sample_rate": min_sample_rate, "files": {}}
    return Bundle(path=Path(__file__).parent / model_id, manifest=manifest, labels=LABELS,
                  pathological=PATHOLOGICAL, frontend_config=fcfg, window_frames=window_frames,
                  hop_frames=hop_frames, sample_rate=sample_rate, min_sample_rate=min_sample_rate,
                  model_id=model_id)


def bursts(duration_s: float, rate: int, starts_s, length_s: float = 2.0, seed: int = 0) -> np.ndarray:
    """Low noise with loud 200 Hz bursts of ``length_s`` at ``starts_s`` (int16)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * rate)
    x = rng.normal(0, 50, n)
    t = np.arange(n) / rate
    for s in starts_s:
        m = (t >= s) & (t < s + length_s)
        x[m] += 8000 * np.sin(2 * np.pi * 200 * t[m])
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def write_wav(path, pcm: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
