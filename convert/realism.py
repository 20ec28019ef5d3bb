"""Realism check: simulated voluntary activity against a real needle-EMG record.

Compares normal-muscle, concentric-needle ``voluntary_muap`` clips of the simulator with the
PhysioNet ``emg_healthy`` record (concentric needle, tibialis anterior, 4 kHz, 0.1 µV/LSB;
/work/shared/reference/real-emg.md, "RE"). The simulated clips are band-limited the same way
(``edge.resample.resample`` to 4 kHz). Three comparisons:

(a) amplitude: percentiles of |x| (µV) over active stretches, and the 10th percentile of the
    20 ms RMS (a real contraction's baseline is never quiet: RE §1.1);
(b) spectrum: Welch PSD in octave bands 0.1–2 kHz, dB relative to band 0 (0.1–0.2 kHz), and
    the kit's front-end (default bundle config at 44.1 kHz, after 4 → 44.1 kHz resampling):
    mean log-Mel level of bands 4, 8, …, 32 relative to band 0, as in RE §1.1;
(c) turns/amplitude (Willison; Stålberg's cloud): per 100 ms epoch, the number of turns per
    second (a turn: a change of direction after a swing of ≥ 100 µV) vs the mean amplitude
    between turns (µV);
(d) motor unit potentials as the kit's QEMG measures them (:func:`edge.quant.quantify` on the
    same 4 kHz signals): the medians of the units' amplitude, duration, duration range and
    phases, and how many units were found. Reported, not checked: the real record yields a
    handful of units.

Active stretches: the records are not labelled. A 100 ms window is active when its RMS is
≥ 20 µV, twice the largest needle/amplifier noise RMS (≤ 10 µV, CW §2), so rest and noise
never count as activity and any recruited unit does.

Tolerances (:func:`check`), broad on purpose: the real record is one 44-year-old man's TA at
a gentle effort, the simulator draws subjects and efforts from wide physiological ranges, so
only the *shape* must agree, never the figures of this record:
- spectrum 0.4–2 kHz within ±6 dB of the real one relative to band 0 (the 1.3.0 simulator
  was 6–14 dB short there, RE §1.1: the cause of the CRD confusion);
- the 20 ms RMS during contraction has its 10th percentile ≥ 15 µV (above any needle-noise
  floor, CW §2: a dense background of distant units, not a quiet baseline);
- the simulated epochs' median turns/s and median amplitude fall inside the real cloud's
  5–95 percentile range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import signal

REAL_RATE = 4000
ACTIVE_RMS_UV = 20.0
TURN_UV = 100.0
EPOCH_S = 0.1
OCTAVES_HZ = ((100, 200), (200, 400), (400, 800), (800, 1600), (1600, 2000))
MEL_BANDS = (4, 8, 12, 16, 20, 24, 28, 32)


def load_physionet(path: str | Path) -> np.ndarray:
    """A PhysioNet emgdb record (``.dat``: little-endian int16, 0.1 µV/LSB) → µV at 4 kHz."""
    return np.fromfile(Path(path).with_suffix(".dat"), "<i2").astype(np.float64) * 0.1


def simulated_voluntary(seeds, seconds: float = 10.0, sample_rate: int = 44100,
                        needle: str = "concentric", muscle: str = "normal") -> list[np.ndarray]:
    """Simulated ``voluntary_muap`` clips (normal muscle, concentric needle by default), µV,
    resampled to 4 kHz."""
    from convert.simulator import Subject, simulate_clip
    from edge.resample import resample

    out = []
    for seed in seeds:
        rec = simulate_clip("voluntary_muap", seconds, sample_rate, seed=int(seed),
                            subject=Subject.draw(int(seed), needle=needle, muscle=muscle))
        out.append(resample(rec.pcm.astype(np.float64) * rec.uv_per_lsb, sample_rate, REAL_RATE))
    return out


def _windows(x: np.ndarray, n: int) -> np.ndarray:
    return x[: len(x) // n * n].reshape(-1, n)


def active(x: np.ndarray, fs: float = REAL_RATE) -> np.ndarray:
    """Samples of the active 100 ms windows, concatenated (see module docstring)."""
    w = _windows(x, int(EPOCH_S * fs))
    keep = np.sqrt(np.mean(w ** 2, axis=1)) >= ACTIVE_RMS_UV
    return w[keep].ravel()


def amplitude(x: np.ndarray, fs: float = REAL_RATE) -> dict:
    a = active(x, fs)
    rms20 = np.sqrt(np.mean(_windows(a, int(0.02 * fs)) ** 2, axis=1))
    p = np.percentile(np.abs(a), [50, 90, 99])
    return {"abs_p50_uv": float(p[0]), "abs_p90_uv": float(p[1]), "abs_p99_uv": float(p[2]),
            "rms20ms_p10_uv": float(np.percentile(rms20, 10)), "active_s": len(a) / fs}


def welch_octaves(x: np.ndarray, fs: float = REAL_RATE) -> list[float]:
    f, p = signal.welch(active(x, fs), fs, nperseg=1024)
    lv = [10 * np.log10(np.mean(p[(f >= lo) & (f < hi)])) for lo, hi in OCTAVES_HZ]
    return [float(v - lv[0]) for v in lv]


def mel_levels(x: np.ndarray, fs: float = REAL_RATE) -> list[float]:
    """Mean log-Mel level (dB) of :data:`MEL_BANDS` relative to band 0 through the default
    bundle's front-end at its rate, after resampling (RE §1.1)."""
    from edge.bundle import load_bundle
    from edge.frontend import Frontend
    from edge.resample import resample

    b = load_bundle("default")
    y = resample(active(x, fs), int(fs), int(b.sample_rate))
    pcm = np.clip(np.rint(y / 0.5), -32768, 32767).astype(np.int16)  # 0.5 µV/LSB
    feats = Frontend(b.frontend_config).process(pcm).astype(np.float64) / 64.0
    m = feats.mean(axis=0)
    return [float(m[k] - m[0]) for k in MEL_BANDS]


def turns_amplitude(x: np.ndarray, fs: float = REAL_RATE) -> np.ndarray:
    """(turns per s, mean amplitude between turns µV) per active 100 ms epoch."""
    n = int(EPOCH_S * fs)
    rows = []
    for w in _windows(x, n):
        if np.sqrt(np.mean(w ** 2)) < ACTIVE_RMS_UV:
            continue
        ext, direction = [w[0]], 0
        last = w[0]
        for v in w[1:]:  # track the running extreme; a turn once it reverses by ≥ 100 µV
            if direction >= 0 and v > last or direction < 0 and v < last:
                last = v
            elif abs(v - last) >= TURN_UV:
                ext.append(last)
                direction = 1 if v > last else -1
                last = v
            if direction == 0 and abs(v - w[0]) >= TURN_UV:
                direction = 1 if v > w[0] else -1
        amps = np.abs(np.diff(ext))
        rows.append((len(amps) / EPOCH_S, float(np.mean(amps)) if len(amps) else 0.0))
    return np.array(rows, dtype=float).reshape(-1, 2)


def qemg_units(parts: list[np.ndarray], fs: float = REAL_RATE) -> dict:
    """(d): medians over the units :func:`edge.quant.quantify` finds in each of ``parts`` (µV)."""
    from edge.quant import quantify

    units = [u for x in parts for u in quantify(x, fs, uv_per_lsb=1.0).units]
    if not units:
        return {"units": 0}
    med = (lambda f: float(np.median([f(u) for u in units])))
    return {"units": len(units), "amplitude_uv_median": med(lambda u: u.amplitude_uv),
            "duration_ms_median": med(lambda u: u.duration_ms),
            "duration_range_ms_median": [med(lambda u: u.duration_range_ms[0]), med(lambda u: u.duration_range_ms[1])],
            "phases_median": med(lambda u: u.phases), "polyphasic_share": float(np.mean([u.phases > 4 for u in units]))}


def compare(real: np.ndarray, sims: list[np.ndarray]) -> dict:
    sim = np.concatenate(sims)
    out = {"real": {}, "sim": {}}
    for name, x, parts in (("real", real, [real]), ("sim", sim, sims)):
        ta = np.concatenate([turns_amplitude(p) for p in parts])
        out[name] = {**amplitude(x), "welch_octaves_db": welch_octaves(x), "mel_db": mel_levels(x),
                     "turns_per_s_median": float(np.median(ta[:, 0])),
                     "turn_amplitude_uv_median": float(np.median(ta[ta[:, 0] > 0, 1])),
                     "turns_per_s_p5_p95": [float(v) for v in np.percentile(ta[:, 0], [5, 95])],
                     "turn_amplitude_uv_p5_p95": [float(v) for v in np.percentile(ta[ta[:, 0] > 0, 1], [5, 95])],
                     "epochs": int(len(ta)), "qemg": qemg_units(parts)}
    out["octaves_hz"] = [list(b) for b in OCTAVES_HZ]
    out["mel_bands"] = list(MEL_BANDS)
    return out


def check(result: dict) -> list[str]:
    """The tolerances of the module docstring; returns the failures (empty = pass)."""
    r, s = result["real"], result["sim"]
    bad = []
    for (lo, hi), a, b in zip(OCTAVES_HZ, r["welch_octaves_db"], s["welch_octaves_db"]):
        if lo >= 400 and abs(a - b) > 6.0:
            bad.append(f"octave {lo}-{hi} Hz: sim {b:.1f} dB vs real {a:.1f} dB re band 0 (> ±6 dB)")
    if s["rms20ms_p10_uv"] < 15.0:
        bad.append(f"baseline during contraction too quiet: 20 ms RMS p10 {s['rms20ms_p10_uv']:.1f} µV < 15 µV")
    t5, t95 = r["turns_per_s_p5_p95"]
    a5, a95 = r["turn_amplitude_uv_p5_p95"]
    if not t5 <= s["turns_per_s_median"] <= t95:
        bad.append(f"sim median turns/s {s['turns_per_s_median']:.0f} outside real {t5:.0f}–{t95:.0f}")
    if not a5 <= s["turn_amplitude_uv_median"] <= a95:
        bad.append(f"sim median turn amplitude {s['turn_amplitude_uv_median']:.0f} µV outside real {a5:.0f}–{a95:.0f}")
    return bad
