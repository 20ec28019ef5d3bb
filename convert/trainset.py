"""Recordings → labelled windows of the device's integer features, for training and evaluation.

Features come from :mod:`convert.windowing` (the same resampler, front-end and window slicing
as the device). Augmented copies are computed fresh from the waveform, never from the feature
cache: each goes through a recording chain drawn from :class:`convert.chain.ChainConfig`
(filters, rate, gain error, polarity, hum, noise, clipping, stored scale), after an optional
pathological episode mixed in (:func:`convert.augment.mix_episode`). :func:`fit_quantizer` derives the feature→int8 rule
(:class:`edge.inference.FeatureQuantizer`) from training features only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clikit.progress import progress
from convert.augment import mix_episode
from convert.chain import ChainConfig, apply_chain
from convert.recording import Recording
from convert.taxonomy import LABELS, PATHOLOGICAL
from edge.inference import FeatureQuantizer

#: Percentiles of training features mapped to int8 −128 and +127.
QUANT_PERCENTILES = (0.05, 99.95)


def default_frontend_config(sample_rate: int = 44100):
    """The kit's front-end settings (edge-pipelines.md; clinical-waveforms.md §1.3: 44.1 kHz
    clinical WAV, fmax 10 kHz) at ``sample_rate`` Hz."""
    from edge.frontend import FrontendConfig

    return FrontendConfig(sample_rate=int(sample_rate), window_ms=25.0, hop_ms=10.0, n_mels=64,
                          fmin_hz=20.0, fmax_hz=min(10000.0, sample_rate / 2.0))


def window_config(window_s: float = 1.0, hop_s: float = 0.25):
    from convert.windowing import WindowConfig

    return WindowConfig(window_s=window_s, hop_s=hop_s)


def open_cache(path: str | Path | None):
    """A :class:`convert.featcache.FeatureCache` at ``path``, or None without one."""
    if path is None:
        return None
    try:
        from convert.featcache import FeatureCache
    except ImportError:
        return None
    return FeatureCache(Path(path))


def load_dir(path: str | Path, target_rate: int, min_rate: int | None, channel: int = 0) -> list[Recording]:
    """A data directory (WAV/WFDB/EDF + same-stem labels) resampled to ``target_rate`` Hz;
    ``channel`` of each multi-channel recording."""
    from convert.datadir import load_datadir

    return load_datadir(path, target_rate=target_rate, min_rate=min_rate, channel=channel)


def split_recordings(recs: list[Recording], val_fraction: float = 0.2,
                     seed: int = 0) -> tuple[list[Recording], list[Recording]]:
    """Split by recording (never windows of one recording on both sides), seeded."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction {val_fraction} out of range (0, 1)")
    if len(recs) < 2:
        raise ValueError(f"need at least 2 recordings to split off validation data, got {len(recs)}; "
                         "or pass a separate validation directory")
    order = np.random.default_rng(seed).permutation(len(recs))
    n_val = max(1, int(round(len(recs) * val_fraction)))
    val = set(order[:n_val].tolist())
    return [r for i, r in enumerate(recs) if i not in val], [r for i, r in enumerate(recs) if i in val]


def load_train_val(data: str | Path, val_data: str | Path | None, target_rate: int, min_rate: int | None,
                   val_fraction: float, seed: int = 0, channel: int = 0) -> tuple[list[Recording], list[Recording]]:
    """Training and validation recordings: ``data`` and ``val_data`` (:func:`load_dir`), or
    ``data`` split by recording (:func:`split_recordings`) when no ``val_data`` is given."""
    recs = load_dir(data, target_rate, min_rate, channel)
    if val_data:
        return recs, load_dir(val_data, target_rate, min_rate, channel)
    return split_recordings(recs, val_fraction, seed)


@dataclass
class FeatureSet:
    """Windows ``X`` (n, frames, n_mels) front-end integers, labels ``y`` (n,), and the index of
    the recording each window came from (``groups``, into ``names``)."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    names: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.y)

    def summary(self) -> dict:
        counts = np.bincount(self.y, minlength=len(LABELS)) if len(self.y) else np.zeros(len(LABELS), int)
        return {"recordings": len(self.names), "windows": int(len(self.y)), "audio_s": round(self.seconds, 1),
                "per_class": {LABELS[i]: int(c) for i, c in enumerate(counts)}}


def concat(*sets: FeatureSet) -> FeatureSet:
    sets = tuple(s for s in sets if len(s))
    if not sets:
        raise ValueError("no windows to concatenate")
    names, groups, off = [], [], 0
    for s in sets:
        groups.append(s.groups + off)
        names += s.names
        off += len(s.names)
    return FeatureSet(np.concatenate([s.X for s in sets]), np.concatenate([s.y for s in sets]),
                      np.concatenate(groups), names, sum(s.seconds for s in sets))


def _has_pathology(rec: Recording) -> bool:
    return any(s.label in PATHOLOGICAL for s in rec.segments)


def features(recs: list[Recording], frontend_cfg, wcfg, cache=None, augment_copies: int = 0, seed: int = 0,
             chain_cfg: ChainConfig = ChainConfig(), p_mix: float = 0.3, keep_clean: bool = True,
             uv_per_lsb: float = 0.5) -> FeatureSet:
    """Windows of every recording (if ``keep_clean``) plus ``augment_copies`` chain copies of each.

    A chain copy: in a recording without pathology, a pathological episode from another
    recording is first mixed in with probability ``p_mix`` (gain 0.3–1, random offset); then
    the copy goes through a recording chain drawn from ``chain_cfg`` (its seed drawn from
    ``seed``), e.g. resampled to 4 kHz and inverted. :mod:`convert.windowing` resamples every
    version back to the front-end rate with the device's resampler, so features stay the
    device's exact integers. Window names: ``name``, ``name+chain<seed>``. Every version is
    re-expressed at ``uv_per_lsb`` (µV per LSB, the bundle's scale) before the front-end, as
    the runtime's calibration stage does (:mod:`edge.calibration`).
    """
    from convert.windowing import window_recording

    if augment_copies < 0:
        raise ValueError(f"augment_copies {augment_copies} must be >= 0")
    if not keep_clean and not augment_copies:
        raise ValueError("keep_clean=False with augment_copies=0 leaves no version of any recording")
    rng = np.random.default_rng(seed)
    donors = [r for r in recs if _has_pathology(r)]
    Xs, ys, gs, names, seconds = [], [], [], [], 0.0
    for i, rec in enumerate(progress(recs, "features", "recordings")):
        versions = [(rec, cache, rec.name)] if keep_clean else []
        for _ in range(augment_copies):
            aug = rec
            if donors and not _has_pathology(rec) and rng.random() < p_mix:
                donor = donors[int(rng.integers(len(donors)))]
                if donor.sample_rate == rec.sample_rate and rec.duration_s > 1.0:
                    aug = mix_episode(rec, donor, float(rng.uniform(0, rec.duration_s - 1.0)),
                                      float(rng.uniform(0.3, 1.0)))
            chain_seed = int(rng.integers(2**31))
            versions.append((apply_chain(aug, chain_cfg.draw(chain_seed)), None, f"{rec.name}+chain{chain_seed}"))
        for version, c, name in versions:
            X, y = window_recording(version, frontend_cfg, wcfg, cache=c, uv_per_lsb=uv_per_lsb)
            if len(y):
                Xs.append(X)
                ys.append(np.asarray(y, np.int64))
                gs.append(np.full(len(y), len(names), np.int64))
                names.append(name)
                seconds += version.duration_s
    if not Xs:
        raise ValueError("no complete window in the recordings: each must last at least one window")
    return FeatureSet(np.concatenate(Xs), np.concatenate(ys), np.concatenate(gs), names, seconds)


def fit_quantizer(X: np.ndarray) -> FeatureQuantizer:
    """The feature→int8 rule spanning the training features' 0.05–99.95th percentiles."""
    sample = np.asarray(X).reshape(-1)
    if len(sample) > 4_000_000:  # a fixed-stride subsample is enough for percentiles
        sample = sample[:: len(sample) // 4_000_000 + 1]
    lo, hi = np.percentile(sample, QUANT_PERCENTILES)
    lo, hi = int(np.floor(lo)), int(np.ceil(hi))
    return FeatureQuantizer.from_range(lo, max(hi, lo + 255))
