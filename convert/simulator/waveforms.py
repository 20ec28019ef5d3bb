"""Potential shapes: one template per class, sampled at any rate.

Every template is evaluated from a continuous-time formula at the requested sample rate, so
the same fibre or motor unit looks the same at 8 kHz and at 48 kHz. Templates are normalised
to a peak-to-peak amplitude of 1 (the caller scales by µV) and start at t = 0 (onset).

Polarity is physical: positive values are a positive potential at the needle tip. (EMG
displays conventionally plot negative upward.)

Durations and shapes come from /work/shared/reference/clinical-waveforms.md §2 (cited "CW").
"""

from __future__ import annotations

import numpy as np


def _t_ms(sample_rate: float, length_ms: float) -> np.ndarray:
    n = max(int(np.ceil(length_ms * sample_rate / 1000.0)), 2)
    return np.arange(n) * (1000.0 / sample_rate)


def _normalise(v: np.ndarray, zero_area: bool = True) -> np.ndarray:
    # Remove the tail offset so that placed templates end on the baseline.
    v = v - np.linspace(v[0], v[-1], len(v))
    if zero_area:
        # A propagating action potential seen extracellularly has (nearly) zero net area; a
        # net area would leave a slow tail after the amplifier's high-pass.
        w = np.hanning(len(v) + 2)[1:-1]
        v = v - (v.sum() / w.sum()) * w
    pp = float(v.max() - v.min())
    if pp <= 0.0:
        raise ValueError("degenerate template")
    return v / pp


def _lobes(t: np.ndarray, centres, widths, amps) -> np.ndarray:
    out = np.zeros_like(t)
    for c, w, a in zip(centres, widths, amps):
        out += a * np.exp(-0.5 * ((t - c) / w) ** 2)
    return out


def fibrillation(sample_rate: float, duration_ms: float, skew: float = 0.0) -> np.ndarray:
    """Single-fibre spike: triphasic, initial positive, main phase negative.

    ``duration_ms`` 1–5 ms (CW §2 "Fibrillation potential", StatPearls; extra-ocular
    2.0 ± 0.4 ms, 93 % triphasic, Jensen 1972). ``skew`` in -1..1 varies the phase balance.
    """
    d = float(duration_ms)
    t = _t_ms(sample_rate, 1.1 * d)
    v = _lobes(t, (0.22 * d, 0.48 * d, 0.74 * d), (0.085 * d, 0.075 * d, 0.11 * d),
               (0.32 + 0.1 * skew, -1.0, 0.42 - 0.1 * skew))
    return _normalise(v)


def endplate_spike(sample_rate: float, duration_ms: float) -> np.ndarray:
    """Endplate spike: biphasic with an initial negative deflection (CW §2 "Endplate noise /
    spikes", StatPearls: initial negative, unlike fibrillations recorded away from the endplate)."""
    d = float(duration_ms)
    t = _t_ms(sample_rate, 1.1 * d)
    v = _lobes(t, (0.3 * d, 0.6 * d), (0.09 * d, 0.14 * d), (-1.0, 0.45))
    return _normalise(v)


def mepp(sample_rate: float, duration_ms: float) -> np.ndarray:
    """Miniature endplate potential as recorded: a small monophasic negative wave with a fast
    rise and slower decay (non-propagated; CW §2 "Endplate noise")."""
    d = float(duration_ms)
    t = _t_ms(sample_rate, d)
    tau = d / 5.0
    v = -(t / tau) * np.exp(1.0 - t / tau)
    return v / float(v.max() - v.min())


def positive_sharp_wave(sample_rate: float, duration_ms: float, rise_ms: float = 0.8,
                        negative_ratio: float = 0.3) -> np.ndarray:
    """Positive sharp wave: sharp initial positivity, then a long low negative phase.

    Total duration ``duration_ms`` 10–30 ms (CW §2 "Positive sharp wave", StatPearls).
    ``rise_ms`` sets the sharpness of the positive phase; ``negative_ratio`` the depth of the
    slow negative phase relative to the positive peak.
    """
    d = float(duration_ms)
    t = _t_ms(sample_rate, d)
    tau = float(rise_ms)
    pos = (t / tau) * np.exp(1.0 - t / tau)
    # Slow negative phase: a broad, flat-topped lobe from ~1.5 rise times to the end.
    t1 = 1.5 * tau
    x = np.clip((t - t1) / max(d - t1, 1e-6), 0.0, 1.0)
    neg = np.sin(np.pi * x) ** 0.6
    v = pos - negative_ratio * neg
    # No zero-area correction: the slow phase is the clinical signature and keeps its shape.
    return _normalise(v, zero_area=False)


def muap(sample_rate: float, duration_ms: float, phases: int, shape_seed: int) -> np.ndarray:
    """Motor-unit action potential: ``phases`` alternating lobes, initial positive.

    Duration 2–15 ms, 2–7 phases (CW §2 "Voluntary MUAP" and "Fasciculation potential").
    The lobe amplitudes and widths are drawn from ``shape_seed`` so that one unit keeps its
    shape at every sample rate.
    """
    if not 2 <= int(phases) <= 8:
        raise ValueError(f"phases = {phases}: allowed range is 2..8")
    rng = np.random.default_rng([int(shape_seed), 0x4D55])
    d = float(duration_ms)
    p = int(phases)
    t = _t_ms(sample_rate, 1.1 * d)
    spacing = 0.7 * d / p
    centres = 0.15 * d + spacing * (np.arange(p) + 0.5) + rng.normal(0.0, 0.08 * spacing, p)
    widths = spacing * rng.uniform(0.38, 0.55, p)
    mags = rng.uniform(0.25, 0.8, p)
    mags[min(1, p - 1)] = 1.0  # the main (negative) phase is the second
    mags[0] *= 0.6             # small initial positivity
    signs = np.where(np.arange(p) % 2 == 0, 1.0, -1.0)
    return _normalise(_lobes(t, centres, widths, signs * mags))


def crd_complex(sample_rate: float, length_ms: float, n_spikes: int, shape_seed: int) -> np.ndarray:
    """Complex repetitive discharge complex: ``n_spikes`` single-fibre spikes time-locked
    within ``length_ms``, giving a polyphasic, serrated complex (CW §2 "Complex repetitive
    discharge", nervestudy glossary). Fixed by ``shape_seed`` so every repeat is identical."""
    rng = np.random.default_rng([int(shape_seed), 0xC4D])
    length = float(length_ms)
    n_total = max(int(np.ceil(length * sample_rate / 1000.0)) + 1, 4)
    v = np.zeros(n_total)
    offs = np.sort(rng.uniform(0.0, 0.8 * length, int(n_spikes)))
    offs -= offs[0]
    for off in offs:
        spike = fibrillation(sample_rate, rng.uniform(1.2, 3.0), skew=rng.uniform(-1, 1))
        i = int(round(off * sample_rate / 1000.0))
        seg = spike[: max(0, n_total - i)]
        v[i:i + len(seg)] += rng.uniform(0.25, 1.0) * seg
    return _normalise(v)


def peak_index(template: np.ndarray) -> int:
    """Index of the largest absolute deflection (where a detector would time the potential)."""
    return int(np.argmax(np.abs(template)))
