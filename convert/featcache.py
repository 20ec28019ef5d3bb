"""On-disk cache of whole-recording front-end frames.

Computing the integer front-end over hours of audio dominates data preparation, and training
runs repeat it with the same inputs. The cache stores the frames of a whole recording (windows
and labels are cheap slices and depend on the :class:`~convert.windowing.WindowConfig`, so they
are not cached) under a key that changes whenever the features could:

    sha256( front-end SPEC_VERSION, FrontendConfig.to_dict(), RESAMPLER_VERSION,
            source rate (Hz), sha256 of the int16 PCM bytes
            [, calibration: recording's and target µV/LSB, Q16 gain] )

The calibration entry (:mod:`edge.calibration`) is present only when the rescale is not the
identity (G ≠ 2^16): identity-calibrated features equal the uncalibrated ones bit for bit, so
they keep their existing key and cache files.

Files are ``ROOT/<key[:2]>/<key>.npz`` holding ``frames`` (front-end dtype) and ``key``. Writes
go to a unique temporary file in the same folder and are renamed into place (``os.replace``
is atomic on POSIX and Windows), so concurrent workers never see half-written files; the last
writer wins with identical content. A file that cannot be read (disk full, killed writer on a
non-POSIX filesystem) is treated as a miss and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from convert.recording import Recording


def pcm_hash(pcm: np.ndarray) -> str:
    """sha256 hex of int16 little-endian PCM bytes."""
    return hashlib.sha256(np.ascontiguousarray(pcm, dtype="<i2").tobytes()).hexdigest()


def cache_key(pcm: np.ndarray, sample_rate: int, frontend_cfg, source_uv_per_lsb: float | None = None,
              target_uv_per_lsb: float | None = None) -> str:
    """Key of the frames of ``pcm`` (int16 at ``sample_rate`` Hz) under ``frontend_cfg``,
    rescaled from ``source_uv_per_lsb`` to ``target_uv_per_lsb`` µV/LSB when both are given."""
    from edge.frontend import SPEC_VERSION
    from edge.resample import RESAMPLER_VERSION

    ident = {
        "spec_version": SPEC_VERSION,
        "frontend": frontend_cfg.to_dict(),
        "resampler_version": RESAMPLER_VERSION,
        "source_rate": int(sample_rate),
        "pcm_sha256": pcm_hash(pcm),
    }
    if source_uv_per_lsb is not None and target_uv_per_lsb is not None:
        from edge.calibration import GAIN_ONE, gain_q16

        G = gain_q16(source_uv_per_lsb, target_uv_per_lsb)
        if G != GAIN_ONE:
            ident["calibration"] = {"source_uv_per_lsb": float(source_uv_per_lsb),
                                    "target_uv_per_lsb": float(target_uv_per_lsb), "gain_q16": G}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


class FeatureCache:
    """Frames of whole recordings on disk under ``root`` (created if missing)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def load(self, key: str) -> np.ndarray | None:
        """Cached frames for ``key``, or None (missing or unreadable)."""
        p = self.path(key)
        try:
            with np.load(p, allow_pickle=False) as z:
                if str(z["key"]) != key:
                    return None
                return z["frames"]
        except (FileNotFoundError, OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            return None

    def store(self, key: str, frames: np.ndarray) -> Path:
        """Write ``frames`` atomically (temp file + rename); returns the final path."""
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=p.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, frames=np.asarray(frames), key=np.array(key))
            os.replace(tmp, p)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return p

    def frames(self, rec: Recording, frontend_cfg, uv_per_lsb: float = 0.5) -> np.ndarray:
        """Front-end frames of ``rec`` at ``uv_per_lsb`` µV/LSB (rescaled from ``rec.uv_per_lsb``,
        resampled to the front-end rate), from cache or computed."""
        from convert.windowing import compute_frames

        key = cache_key(rec.pcm, rec.sample_rate, frontend_cfg, rec.uv_per_lsb, uv_per_lsb)
        cached = self.load(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        out = compute_frames(rec.pcm, rec.sample_rate, frontend_cfg, rec.uv_per_lsb, uv_per_lsb)
        self.store(key, out)
        return out
