"""One function per label, each drawing one clip of that class: the signal at the electrode
(µV, before the recording chain), its labelled segments and point events.

Figures follow ``clinical-waveforms.md`` (shared reference notes) §2 (cited as [CW]) and
``real-emg.md`` §2 ([RE]); each function's docstring says which numbers come from there and
which are our own plain choices where the reference gives none. Where the reference gives a
range, values are drawn uniformly across it (amplitudes log-uniformly, as they span decades).
Positive values are positive voltage (clinical displays draw negative up; the log-Mel features
do not see the sign).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from convert.altsim import firing, shapes
from convert.altsim.shapes import MuapSpec

#: Voluntary pools and effort levels :func:`voluntary_muap` draws from.
POOLS = ("normal", "myopathic", "neurogenic")
EFFORTS = ("low", "moderate", "high")


@dataclass
class Clip:
    """A drawn clip. ``signal_uv``: µV at ``fs_hz``; ``segments``: ``(start_s, end_s, label)``;
    ``events``: ``(t_s, label)`` point labels (one per potential of sparse or slow classes);
    ``sources``: per generator (fibre, unit, complex) its discharge times (s) and parameters,
    for checks; not written to the data directory."""

    label: str
    fs_hz: float
    signal_uv: np.ndarray
    segments: list[tuple[float, float, str]]
    events: list[tuple[float, str]] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A value drawn log-uniformly from ``[lo, hi]``."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _n(duration_s: float, fs_hz: float) -> int:
    return int(round(duration_s * fs_hz))


def place_episodes(rng: np.random.Generator, duration_s: float, count: int, length_s: tuple[float, float],
                   min_gap_s: float = 0.5) -> list[tuple[float, float]]:
    """Up to ``count`` non-overlapping episodes with lengths drawn from ``length_s`` (s), at
    least ``min_gap_s`` apart, placed at random within ``[0, duration_s]``; fewer if they do
    not fit."""
    lengths = list(rng.uniform(*length_s, size=count))
    while lengths and sum(lengths) + min_gap_s * (len(lengths) - 1) > duration_s:
        lengths.pop()
    if not lengths:
        lengths = [min(length_s[0], duration_s)]
    free = duration_s - sum(lengths) - min_gap_s * (len(lengths) - 1)
    gaps = rng.dirichlet(np.ones(len(lengths) + 1)) * free
    out, t = [], gaps[0]
    for k, length in enumerate(lengths):
        out.append((float(t), float(t + length)))
        t += length + min_gap_s + gaps[k + 1]
    return out


# ---------------------------------------------------------------- normal classes

def rest(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """Electrical silence: no potential at all; the recording chain adds amplifier noise and
    hum."""
    return Clip("rest", fs_hz, np.zeros(_n(duration_s, fs_hz)), [(0.0, duration_s, "rest")])


def _insertion_potential(rng: np.random.Generator, fs_hz: float) -> np.ndarray:
    """One injury potential of an insertional burst: a single-fibre spike (1–5 ms,
    50–500 µV) or, one time in three, a positive-wave form (5–15 ms). Our choice: the
    reference describes only "a brief burst with needle movement"."""
    amp = log_uniform(rng, 50.0, 500.0)
    if rng.random() < 1 / 3:
        return shapes.positive_sharp_wave(rng, fs_hz, amp, rng.uniform(5.0, 15.0))
    return shapes.sfap(rng, fs_hz, amp, rng.uniform(1.0, 5.0))


def insertional(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """Needle movements, each followed by a burst of injury potentials lasting 300–500 ms
    ([CW] normal insertional activity ~300–500 ms).

    Our choices: the needle is stepped every 0.4–1.0 s over an episode of 2.5–5 s; each step
    makes a movement artefact (a smooth biphasic baseline shift of 50–500 µV over 20–100 ms)
    and a burst whose potential rate starts at 200–1000 /s and decays exponentially (time
    constant a third of the burst). The segment spans the stepping episode, first movement to
    the end of the last burst, as a clinician marks the stretch of needle movement.
    """
    n = _n(duration_s, fs_hz)
    x = np.zeros(n)
    length = min(rng.uniform(2.5, 5.0), duration_s - 0.5)
    t0 = rng.uniform(0.0, duration_s - length)
    bank = [_insertion_potential(rng, fs_hz) for _ in range(16)]
    t, end, moves = t0, t0, []
    while t < t0 + length - 0.3:
        burst = rng.uniform(0.3, 0.5)
        moves.append((t, burst))
        art_ms = rng.uniform(20.0, 100.0)
        ta = np.arange(int(art_ms * fs_hz / 1000)) / (art_ms * fs_hz / 1000)
        art = rng.choice([-1.0, 1.0]) * rng.uniform(50.0, 500.0) * np.sin(2 * np.pi * ta) * np.sin(np.pi * ta)
        x += firing.render(n, fs_hz, [t], art)
        lam0 = rng.uniform(200.0, 1000.0)
        tau = burst / 3.0
        cand = firing.poisson(rng, lam0, t, t + burst)
        keep = cand[rng.random(len(cand)) < np.exp(-(cand - t) / tau)]  # thinning: rate lam0*exp(-dt/tau)
        which = rng.integers(0, len(bank), size=len(keep))
        x += firing.render(n, fs_hz, keep, [bank[k] for k in which])
        end = t + burst
        t += rng.uniform(0.4, 1.0)
    end = min(end, duration_s)
    return Clip("insertional", fs_hz, x, [(float(moves[0][0]), float(end), "insertional")],
                info={"movements_s": [round(m[0], 4) for m in moves]})


def _endplate_noise_signal(rng: np.random.Generator, n: int, fs_hz: float) -> tuple[np.ndarray, dict]:
    """End-plate noise: superposed miniature end-plate potentials (non-propagated, monophasic
    negative; [CW]) with Poisson timing at 200–1000 /s and sizes varying over 1–5× (our
    choices), the whole scaled so that its 1st–99th percentile span is 10–50 µV ([CW]: noise
    commonly quoted 10–50 µV [U]; we read the figure as the amplitude of the irregular
    baseline)."""
    from scipy.signal import fftconvolve

    rate = rng.uniform(200.0, 1000.0)
    count = rng.poisson(rate * n / fs_hz)
    pos = rng.integers(0, n, size=count)
    amp = np.exp(rng.uniform(0.0, np.log(5.0), size=count))
    shape_of = rng.integers(0, 8, size=count)
    x = np.zeros(n)
    for k in range(8):  # eight MEPP shapes, each convolved with its impulse train
        imp = np.zeros(n)
        sel = shape_of == k
        np.add.at(imp, pos[sel], amp[sel])
        x += fftconvolve(imp, shapes.mepp(rng, fs_hz, 1.0))[:n]
    x -= x.mean()
    span = rng.uniform(10.0, 50.0)
    width = np.percentile(x, 99) - np.percentile(x, 1)
    x *= span / width if width > 0 else 0.0
    return x, {"mepp_rate_hz": round(rate, 1), "span_uv": round(span, 2)}


def endplate_noise(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """End-plate noise over the whole clip (see :func:`_endplate_noise_signal`)."""
    x, info = _endplate_noise_signal(rng, _n(duration_s, fs_hz), fs_hz)
    return Clip("endplate_noise", fs_hz, x, [(0.0, duration_s, "endplate_noise")], info=info)


def endplate_spike(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """End-plate spikes: initial-negative single-fibre potentials (the needle is at the
    end-plate, where the discharge starts; [CW] initial negative), 100–200 µV ([CW], [U]),
    firing irregularly ([CW]): gamma intervals with CV 0.6–1.2 and mean rate 5–50 Hz from 1–4
    sources, shortest interval 2 ms (our choices; [CW] end-plate spikes have shorter minimum
    intervals than fibrillations). Duration is the model's own (a fibre at 0.02–0.2 mm, within
    0.3 mm of its end-plate). With probability 0.7 end-plate noise lies underneath (our choice),
    labelled ``endplate_noise``; every spike is a point event."""
    n = _n(duration_s, fs_hz)
    x = np.zeros(n)
    segments: list[tuple[float, float, str]] = []
    if rng.random() < 0.7:
        noise, _ = _endplate_noise_signal(rng, n, fs_hz)
        x += noise
        segments.append((0.0, duration_s, "endplate_noise"))
    sources, events = [], []
    for _ in range(int(rng.integers(1, 5))):
        w = shapes.sfap(rng, fs_hz, rng.uniform(100.0, 200.0), None, origin_distance_mm=(0.0, 0.3),
                        r_mm=(0.02, 0.2), cv_m_s=(3.0, 5.0))
        rate, cv = rng.uniform(5.0, 50.0), rng.uniform(0.6, 1.2)
        times = firing.renewal(rng, rate, cv, 0.0, duration_s, refractory_s=0.002)
        x += firing.render(n, fs_hz, times, w)
        sources.append({"times_s": times, "rate_hz": rate, "cv": cv, "waveform": w})
        events += [(float(t), "endplate_spike") for t in times]
    return Clip("endplate_spike", fs_hz, x, segments, sorted(events), sources)


def _pool_unit(rng: np.random.Generator, fs_hz: float, pool: str) -> tuple[np.ndarray, dict]:
    """One near motor unit's MUAP for ``pool``.

    normal: 300–3000 µV, 2–15 ms ([CW] voluntary MUAP; [RE] TA 661 ± 92 µV, 9.35 ms), 10–30
    fibres near the needle, polyphasic one time in seven (extra latency 1–2 ms; [CW] 10–15 %).
    myopathic: 100–600 µV, 2–6 ms, 4–12 fibres with 0.5–1.5 ms latency scatter (small, short,
    polyphasic; our choice of numbers). neurogenic: 1000–3600 µV, 12–25 ms, 30–80 fibres,
    end-plate scatter 1–3 mm and 0.5–2 ms latency scatter (large, long, polyphasic; our choice,
    the ceiling from [CW] partially denervated 3599 µV).
    """
    if pool == "normal":
        poly = rng.random() < 1 / 7
        spec = MuapSpec(n_fibres=int(rng.integers(10, 31)), endplate_scatter_mm=rng.uniform(0.5, 1.5),
                        cv_m_s=rng.uniform(3.5, 4.5),
                        extra_latency_ms=rng.uniform(1.0, 2.0) if poly else rng.uniform(0.1, 0.3))
        amp, dur = log_uniform(rng, 300.0, 3000.0), rng.uniform(2.0, 15.0)
    elif pool == "myopathic":
        spec = MuapSpec(n_fibres=int(rng.integers(4, 13)), endplate_scatter_mm=rng.uniform(0.5, 2.0),
                        cv_m_s=rng.uniform(3.0, 4.5), extra_latency_ms=rng.uniform(0.5, 1.5))
        amp, dur = log_uniform(rng, 100.0, 600.0), rng.uniform(2.0, 6.0)
    elif pool == "neurogenic":
        spec = MuapSpec(n_fibres=int(rng.integers(30, 81)), endplate_scatter_mm=rng.uniform(1.0, 3.0),
                        cv_m_s=rng.uniform(3.5, 4.5), extra_latency_ms=rng.uniform(0.5, 2.0))
        amp, dur = log_uniform(rng, 1000.0, 3600.0), rng.uniform(12.0, 25.0)
    else:
        raise ValueError(f"pool = {pool!r}: allowed {', '.join(POOLS)}")
    return shapes.muap(rng, fs_hz, amp, dur, spec), {"p2p_uv": amp, "duration_ms": dur}


#: Near units and distant (background) units per effort level, and the firing-rate interval
#: (Hz) drawn per unit; [CW] onset ~7.6 Hz, recruitment ~11 Hz, 12–15 Hz fastest at low–moderate
#: effort, max ~30–50 Hz; [RE] 5.9 MUAPs at a site up to 30 % MVC. Counts are our choice.
EFFORT_TABLE = {
    #          near (normal)  far       rate Hz
    "low": ((1, 3), (5, 15), (5.0, 12.0)),
    "moderate": ((4, 8), (15, 40), (8.0, 20.0)),
    "high": ((10, 20), (40, 80), (12.0, 30.0)),
}


def voluntary_muap(rng: np.random.Generator, duration_s: float, fs_hz: float, pool: str = "normal",
                   effort: str = "low") -> Clip:
    """Voluntary activity: a recruited pool of motor units at the needle plus distant units.

    Near units per :data:`EFFORT_TABLE`; a myopathic pool recruits early (twice the normal
    count, our choice), a neurogenic pool has reduced recruitment (1–2, 1–3, 2–5 units) firing
    fast (10–20, 15–25, 20–30 Hz; [CW] >15 Hz at low effort suggests reduced recruitment).
    Rates stay within 5–30 Hz; intervals are gamma with CV 10–30 % per unit ([RE] ISI CV
    typically 10–30 %), with a common slow drive (0–8 % at 0.5–2 Hz; [RE] common low-frequency
    drive above ~10 % MVC; size our choice). Distant units ([RE] §1.1: a dense background of
    small distant potentials between the large ones): fibres 1–3 mm from the needle, 20–150 µV,
    the model's own duration (our choices).
    """
    if pool not in POOLS:
        raise ValueError(f"pool = {pool!r}: allowed {', '.join(POOLS)}")
    if effort not in EFFORTS:
        raise ValueError(f"effort = {effort!r}: allowed {', '.join(EFFORTS)}")
    n = _n(duration_s, fs_hz)
    (nlo, nhi), (flo, fhi), rates = EFFORT_TABLE[effort]
    if pool == "myopathic":
        nlo, nhi = 2 * nlo + 1, 2 * nhi
    elif pool == "neurogenic":
        (nlo, nhi), rates = {"low": ((1, 2), (10.0, 20.0)), "moderate": ((1, 3), (15.0, 25.0)),
                             "high": ((2, 5), (20.0, 30.0))}[effort]
        flo, fhi = max(1, flo // 3), max(2, fhi // 3)
    depth, f_drive, phase = rng.uniform(0.0, 0.08), rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)

    def drive(t: float) -> float:
        return 1.0 + depth * np.sin(2 * np.pi * f_drive * t + phase)

    x = np.zeros(n)
    sources = []
    n_near = int(rng.integers(nlo, nhi + 1))
    n_far = int(rng.integers(flo, fhi + 1))
    for k in range(n_near + n_far):
        near = k < n_near
        if near:
            w, params = _pool_unit(rng, fs_hz, pool)
        else:
            spec = MuapSpec(n_fibres=int(rng.integers(10, 31)), pickup_mm=(1.0, 3.0))
            params = {"p2p_uv": log_uniform(rng, 20.0, 150.0), "duration_ms": None}
            w = shapes.muap(rng, fs_hz, params["p2p_uv"], None, spec)
        rate, cv = rng.uniform(*rates), rng.uniform(0.10, 0.30)
        times = firing.renewal(rng, rate, cv, 0.0, duration_s, drive=drive, refractory_s=0.02)
        x += firing.render(n, fs_hz, times, w)
        sources.append({"near": near, "times_s": times, "rate_hz": rate, "cv": cv, **params})
    return Clip("voluntary_muap", fs_hz, x, [(0.0, duration_s, "voluntary_muap")], sources=sources,
                info={"pool": pool, "effort": effort, "near_units": n_near, "far_units": n_far,
                      "drive_depth": round(depth, 4)})


# ---------------------------------------------------------------- pathological classes

def _regular_sources(rng, duration_s, fs_hz, label, count, make_wave) -> Clip:
    n = _n(duration_s, fs_hz)
    x = np.zeros(n)
    sources, events = [], []
    for _ in range(count):
        w, params = make_wave()
        rate = rng.uniform(0.5, 15.0)
        slowing = rng.uniform(0.0, 0.3)
        cv = rng.uniform(0.005, 0.03)
        times = firing.regular(rng, rate, 0.0, duration_s, cv=cv, slowing=slowing)
        x += firing.render(n, fs_hz, times, w)
        sources.append({"times_s": times, "rate_hz": rate, "slowing": slowing, "cv": cv, "waveform": w, **params})
        events += [(float(t), label) for t in times]
    return Clip(label, fs_hz, x, [(0.0, duration_s, label)], sorted(events), sources)


def fibrillation(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """Fibrillation potentials from 1–6 fibres (density 1+ to 4+, count our choice): each a
    single-fibre potential recorded 2–20 mm from its origin (initial positive, bi-/triphasic),
    20–200 µV, 1–5 ms ([CW]), firing regularly at 0.5–15 Hz ([CW]) with 0.5–3 % interval jitter
    and slowing by 0–30 % over the clip (our choices; [CW] may slow before stopping)."""
    def wave():
        amp, dur = log_uniform(rng, 20.0, 200.0), rng.uniform(1.0, 5.0)
        return shapes.sfap(rng, fs_hz, amp, dur), {"p2p_uv": amp, "duration_ms": dur}
    return _regular_sources(rng, duration_s, fs_hz, "fibrillation", int(rng.integers(1, 7)), wave)


def positive_sharp_wave(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """Positive sharp waves from 1–4 fibres (our choice): sharp positive onset, long low
    negative phase, 10–30 ms ([CW]); firing as fibrillations, regular 0.5–15 Hz ([CW]).
    Amplitude 20–300 µV is our choice ([CW] gives none)."""
    def wave():
        amp, dur = log_uniform(rng, 20.0, 300.0), rng.uniform(10.0, 30.0)
        return shapes.positive_sharp_wave(rng, fs_hz, amp, dur), {"p2p_uv": amp, "duration_ms": dur}
    return _regular_sources(rng, duration_s, fs_hz, "positive_sharp_wave", int(rng.integers(1, 5)), wave)


def fasciculation(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """Fasciculation potentials of 1–3 motor units, MUAP-like, firing irregularly and sparsely.

    Per unit, one of the two [CW] rows with equal chance: ALS, strength MRC 5: 123–1480 µV,
    2.8–23.9 ms; partially denervated: 135–3599 µV, 4.5–37.4 ms. Polyphasic one time in six
    ([CW] 10.5–22.6 %): 1–2.5 ms fibre latency scatter. Timing Poisson at 0.1–1 Hz per unit
    (our choice; [CW] gives "irregular, sparse"), at least one potential per clip. Every
    potential is a point event.
    """
    n = _n(duration_s, fs_hz)
    for _attempt in range(100):
        x = np.zeros(n)
        sources, events = [], []
        for _ in range(int(rng.integers(1, 4))):
            if rng.random() < 0.5:
                amp, dur = log_uniform(rng, 123.0, 1480.0), rng.uniform(2.8, 23.9)
            else:
                amp, dur = log_uniform(rng, 135.0, 3599.0), rng.uniform(4.5, 37.4)
            poly = rng.random() < 1 / 6
            spec = MuapSpec(n_fibres=int(rng.integers(15, 61)), endplate_scatter_mm=rng.uniform(0.5, 2.5),
                            extra_latency_ms=rng.uniform(1.0, 2.5) if poly else rng.uniform(0.1, 0.4))
            w = shapes.muap(rng, fs_hz, amp, dur, spec)
            rate = rng.uniform(0.1, 1.0)
            times = firing.poisson(rng, rate, 0.0, duration_s - 0.05, refractory_s=0.05)
            x += firing.render(n, fs_hz, times, w)
            sources.append({"times_s": times, "rate_hz": rate, "p2p_uv": amp, "duration_ms": dur,
                            "polyphasic": poly, "waveform": w})
            events += [(float(t), "fasciculation") for t in times]
        if events:
            break
    return Clip("fasciculation", fs_hz, x, [(0.0, duration_s, "fasciculation")], sorted(events), sources)


def complex_repetitive_discharge(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """A complex repetitive discharge: one polyphasic complex repeated identically at a uniform
    rate of 5–100 Hz, 100–1000 µV peak-to-peak ([CW]), starting and stopping abruptly.

    Our choices: the complex is 3–10 single-fibre potentials (1–5 ms each, relative sizes
    0.2–1) at fixed latencies spread over 5–50 ms (at most 80 % of the interval); intervals
    jitter by 10–50 µs (machine-like); the episode lasts 3 s to the whole clip; with
    probability 0.3 the discharge changes abruptly once mid-episode ([CW] "abrupt onset,
    cessation or change"): one component drops out and the rate steps to a new value in
    5–100 Hz.
    """
    n = _n(duration_s, fs_hz)

    def complex_of(parts, lats):
        length = max(int(lat * fs_hz / 1000) + len(w) for w, lat in zip(parts, lats))
        c = np.zeros(length)
        for w, lat in zip(parts, lats):
            i = int(lat * fs_hz / 1000)
            c[i:i + len(w)] += w
        return c

    rate = rng.uniform(5.0, 100.0)
    span_ms = min(rng.uniform(5.0, 50.0), 0.8 * 1000.0 / rate)
    k = int(rng.integers(3, 11))
    parts = [shapes.sfap(rng, fs_hz, rng.uniform(0.2, 1.0), rng.uniform(1.0, 5.0)) for _ in range(k)]
    lats = np.sort(rng.uniform(0.0, max(span_ms - 5.0, 0.5), size=k))
    amp = log_uniform(rng, 100.0, 1000.0)
    gain = amp / shapes.peak_to_peak(complex_of(parts, lats))
    length = rng.uniform(min(3.0, duration_s), duration_s)
    start = rng.uniform(0.0, duration_s - length)
    end = start + length
    jitter = rng.uniform(10e-6, 50e-6)
    stages = [(start, end, rate, complex_of(parts, lats) * gain)]
    if rng.random() < 0.3 and length > 2.0:
        t_change = rng.uniform(start + 1.0, end - 1.0)
        drop = int(rng.integers(0, k))
        keep = [i for i in range(k) if i != drop]
        rate2 = rng.uniform(5.0, 100.0)
        stages = [(start, t_change, rate, stages[0][3]),
                  (t_change, end, rate2, complex_of([parts[i] for i in keep], lats[keep]) * gain)]
    x = np.zeros(n)
    sources = []
    for a, b, r, c in stages:
        period = 1.0 / r
        count = int(np.floor((b - a) / period))
        times = a + np.arange(count) * period + rng.normal(0.0, jitter, size=count)
        times = times[(times >= a) & (times < b)]
        x += firing.render(n, fs_hz, times, c)
        sources.append({"times_s": times, "rate_hz": r, "waveform": c})
    return Clip("complex_repetitive_discharge", fs_hz, x, [(start, end, "complex_repetitive_discharge")],
                sources=sources, info={"components": k, "p2p_uv": amp, "changes": len(stages) - 1})


def myotonic_discharge(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """Myotonic discharges: single-fibre potentials whose rate and amplitude wax and wane,
    20–150 Hz ([CW] 20–80 Hz AANEM, up to 150 Hz [U]).

    Per episode (1–3 episodes of 1–4 s, our choice): type 1 spikes (<5 ms: 1–5 ms, fib-like)
    or type 2 positive waves (5–20 ms) with equal chance ([CW]); amplitude 20–300 µV (our
    choice). The rate runs from a low to a high value drawn in 20–150 Hz (at least 15 Hz
    apart) through a smooth envelope peaking anywhere in the first 70 % of the episode and
    falling to 0–30 % of the swing at its end; the amplitude follows the same envelope with a
    depth of 30–80 % (our choices). Interval jitter 2 %.
    """
    n = _n(duration_s, fs_hz)
    x = np.zeros(n)
    segments, sources = [], []
    for a, b in place_episodes(rng, duration_s, int(rng.integers(1, 4)), (1.0, 4.0), 0.5):
        amp = log_uniform(rng, 20.0, 300.0)
        if rng.random() < 0.5:
            kind, w = "spike", shapes.sfap(rng, fs_hz, amp, rng.uniform(1.0, 5.0))
        else:
            kind, w = "positive_wave", shapes.positive_sharp_wave(rng, fs_hz, amp, rng.uniform(5.0, 20.0))
        f_lo = rng.uniform(20.0, 135.0)
        f_hi = rng.uniform(f_lo + 15.0, 150.0)
        peak, tail, depth = rng.uniform(0.0, 0.7), rng.uniform(0.0, 0.3), rng.uniform(0.3, 0.8)

        def env(t, a=a, b=b, peak=peak, tail=tail):
            s = (np.asarray(t) - a) / (b - a)
            rise = np.where(s < peak, 0.5 - 0.5 * np.cos(np.pi * s / max(peak, 1e-9)), 1.0)
            fall = np.where(s >= peak, tail + (1 - tail) * (0.5 + 0.5 * np.cos(np.pi * (s - peak) / (1 - peak))), 1.0)
            return np.clip(rise * fall, 0.0, 1.0)

        def rate(t, f_lo=f_lo, f_hi=f_hi, env=env):
            return f_lo + (f_hi - f_lo) * env(t)

        times = firing.from_rate(rng, rate, a, b, cv=0.02)
        gains = 1.0 - depth * (1.0 - env(times))
        x += firing.render(n, fs_hz, times, w, gains)
        segments.append((a, b, "myotonic_discharge"))
        sources.append({"times_s": times, "kind": kind, "f_lo": f_lo, "f_hi": f_hi, "gains": gains, "p2p_uv": amp})
    return Clip("myotonic_discharge", fs_hz, x, segments, sources=sources)


def myokymic_discharge(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """Myokymic discharges: bursts of a normal-looking MUAP (300–3000 µV, 5–15 ms) firing at
    30–60 Hz within the burst, bursts recurring semi-rhythmically at 2–10 Hz ([CW]).

    Our choices: 1–2 units; 2–10 discharges per burst, fewer if the burst would take more than
    70 % of the burst period; burst intervals jitter by 10 %, intra-burst intervals by 5 %.
    """
    n = _n(duration_s, fs_hz)
    x = np.zeros(n)
    sources = []
    for _ in range(int(rng.integers(1, 3))):
        spec = MuapSpec(n_fibres=int(rng.integers(10, 31)), extra_latency_ms=rng.uniform(0.1, 0.3))
        amp = log_uniform(rng, 300.0, 3000.0)
        w = shapes.muap(rng, fs_hz, amp, rng.uniform(5.0, 15.0), spec)
        burst_rate, intra = rng.uniform(2.0, 10.0), rng.uniform(30.0, 60.0)
        per_burst = int(rng.integers(2, 11))
        per_burst = max(2, min(per_burst, 1 + int(0.7 * intra / burst_rate)))
        onsets = firing.regular(rng, burst_rate, 0.0, duration_s, cv=0.10)
        times = []
        for t0 in onsets:
            iv = (1.0 / intra) * (1.0 + 0.05 * rng.standard_normal(per_burst - 1))
            times += list(t0 + np.concatenate([[0.0], np.cumsum(iv)]))
        times = np.asarray([t for t in times if t < duration_s])
        x += firing.render(n, fs_hz, times, w)
        sources.append({"times_s": times, "burst_onsets_s": onsets, "burst_rate_hz": burst_rate,
                        "intra_rate_hz": intra, "per_burst": per_burst, "p2p_uv": amp})
    return Clip("myokymic_discharge", fs_hz, x, [(0.0, duration_s, "myokymic_discharge")], sources=sources)


def neuromyotonic_discharge(rng: np.random.Generator, duration_s: float, fs_hz: float) -> Clip:
    """Neuromyotonic discharges: one motor unit firing at >150 Hz for 0.5–2 s, starting and
    stopping abruptly, with decrementing amplitude ([CW]).

    Our choices: 2–4 episodes per clip; rate 150–300 Hz (the reference gives no ceiling);
    a normal-looking MUAP (300–3000 µV, 5–15 ms) whose amplitude decays exponentially to
    20–60 % by the episode's end; interval jitter 2 %.
    """
    n = _n(duration_s, fs_hz)
    x = np.zeros(n)
    segments, sources = [], []
    spec = MuapSpec(n_fibres=int(rng.integers(10, 31)), extra_latency_ms=rng.uniform(0.1, 0.3))
    w = shapes.muap(rng, fs_hz, log_uniform(rng, 300.0, 3000.0), rng.uniform(5.0, 15.0), spec)
    for a, b in place_episodes(rng, duration_s, int(rng.integers(2, 5)), (0.5, 2.0), 0.5):
        rate, final = rng.uniform(150.0, 300.0), rng.uniform(0.2, 0.6)
        times = firing.regular(rng, rate, a, b, cv=0.02)
        times = np.concatenate([[a], times[1:]])  # abrupt start: first discharge at onset
        gains = final ** ((times - a) / (b - a))
        x += firing.render(n, fs_hz, times, w, gains)
        segments.append((a, b, "neuromyotonic_discharge"))
        sources.append({"times_s": times, "rate_hz": rate, "final_gain": final, "gains": gains,
                        "p2p_uv": float(np.ptp(w))})
    return Clip("neuromyotonic_discharge", fs_hz, x, segments, sources=sources)


#: Label → clip-drawing function ``(rng, duration_s, fs_hz) -> Clip``.
DRAW: dict[str, Callable[..., Clip]] = {
    "rest": rest,
    "insertional": insertional,
    "endplate_noise": endplate_noise,
    "endplate_spike": endplate_spike,
    "voluntary_muap": voluntary_muap,
    "fibrillation": fibrillation,
    "positive_sharp_wave": positive_sharp_wave,
    "fasciculation": fasciculation,
    "complex_repetitive_discharge": complex_repetitive_discharge,
    "myotonic_discharge": myotonic_discharge,
    "myokymic_discharge": myokymic_discharge,
    "neuromyotonic_discharge": neuromyotonic_discharge,
}
