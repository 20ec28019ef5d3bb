"""One clip per call: the clean signal (µV) of one class with its segments and events.

Every ``draw_<label>(rng, fs, duration_s, variant)`` returns a :class:`Clip`. Figures marked
"ref" follow ``clinical-waveforms.md`` §2 / ``real-emg.md`` §2 (see the package docstring);
figures marked "choice" are ours where the reference gives nothing. Ranges are drawn across
(uniform or log-uniform) rather than at their centre. Background is an electrically quiet muscle
(the recording chain adds the noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convert.holdoutsim import shapes
from convert.holdoutsim.firing import regular_train, renewal_train


@dataclass
class Clip:
    """signal_uv: clean signal (µV). segments: ``(start_s, end_s, label)``. events: ``(t_s, label)``,
    one per potential of the class where it has countable potentials. meta: what was drawn."""

    signal_uv: np.ndarray
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def place(x: np.ndarray, wave: np.ndarray, times_s: np.ndarray, fs: float, gains=None) -> None:
    """Add ``wave`` (centred on its middle sample) into ``x`` at each time, scaled by ``gains``."""
    c = len(wave) // 2
    n = len(x)
    for i, t in enumerate(np.asarray(times_s, float)):
        k = int(round(t * fs)) - c
        a, b = max(k, 0), min(k + len(wave), n)
        if a < b:
            g = 1.0 if gains is None else float(gains[i])
            x[a:b] += g * wave[a - k:b - k]


def _new(fs: float, duration_s: float) -> np.ndarray:
    return np.zeros(int(round(fs * duration_s)))


def _events(times, label: str, duration_s: float) -> list[tuple[float, str]]:
    return [(round(float(t), 6), label) for t in times if 0 <= t < duration_s]


# ------------------------------------------------------------------ normal activity

def draw_rest(rng, fs, duration_s, variant=0) -> Clip:
    """Electrically silent muscle: nothing but what the chain adds."""
    return Clip(_new(fs, duration_s))


def draw_insertional(rng, fs, duration_s, variant=0) -> Clip:
    """Needle exploration: runs of 3–8 small needle movements (choice), each followed by a burst of
    ~300–500 ms (ref) of fibre spikes and positive waves whose rate and size decay over the burst.

    Per movement: an artefact (choice: a smooth HR0 bump of 50–300 µV, 5–20 ms wide), then spikes at
    a Poisson rate starting at 200–800 /s (choice) decaying with τ = burst/3, amplitudes 50–600 µV
    (choice) × the same decay, 75 % fibre spikes 1–4 ms, 25 % positive waves 5–15 ms (choice).
    The segment spans a run from its first movement to the end of its last burst.
    """
    x = _new(fs, duration_s)
    segs, moves = [], []
    s0 = rng.uniform(0.2, 2.0)
    while s0 < duration_s - 1.0 and len(segs) < 2:
        t, end = float(s0), float(s0)
        for _ in range(int(rng.integers(3, 9))):
            if t > duration_s - 0.6:
                break
            burst = rng.uniform(0.3, 0.5)
            moves.append(t)
            art = shapes.hr(shapes.time_axis(fs, 40), 0, rng.uniform(5, 20)) * rng.uniform(50, 300)
            place(x, art * rng.choice([-1, 1]), [t + 0.01], fs)
            tau = burst / 3
            peak = rng.uniform(200, 800)
            n = rng.poisson(peak * tau * (1 - np.exp(-burst / tau)))
            # inverse-CDF of the truncated exponential density
            u = rng.uniform(0, 1 - np.exp(-burst / tau), n)
            ts = t + 0.005 - tau * np.log(1 - u)
            for ti in ts:
                env = np.exp(-(ti - t) / tau)
                amp = loguniform(rng, 50, 600) * (0.3 + 0.7 * env)
                if rng.uniform() < 0.75:
                    w = shapes.fibre_spike(rng, fs, amp, rng.uniform(1, 4), initial_positive=rng.uniform() < 0.8)
                else:
                    w = shapes.positive_sharp_wave(rng, fs, amp, rng.uniform(5, 15))
                place(x, w, [ti], fs)
            end = t + burst
            t = end + rng.uniform(0.0, 0.3)  # next movement: 0–300 ms after the burst (choice)
        segs.append((round(float(s0), 6), round(min(end, duration_s), 6), "insertional"))
        s0 = end + rng.uniform(0.5, 2.0)  # a second run in the same clip when there is room (choice)
    return Clip(x, segs, [], {"movements_s": [round(float(m), 4) for m in moves]})


def draw_endplate_noise(rng, fs, duration_s, variant=0) -> Clip:
    """End-plate noise: miniature end-plate potentials, short monophasic negative transients of
    10–50 µV (ref [U]), 1–3 ms (choice), at Poisson rates of 200–1500 /s (choice), the whole clip."""
    x = _new(fs, duration_s)
    rate = loguniform(rng, 200, 1500)
    n = rng.poisson(rate * duration_s)
    times = np.sort(rng.uniform(0, duration_s, n))
    protos = [shapes.endplate_potential(rng, fs, 1.0, rng.uniform(1, 3)) for _ in range(8)]
    which = rng.integers(0, len(protos), n)
    amps = np.exp(rng.uniform(np.log(10), np.log(50), n))
    for k, w in enumerate(protos):
        sel = which == k
        place(x, w, times[sel], fs, amps[sel])
    return Clip(x, [(0.0, float(duration_s), "endplate_noise")], [], {"mepp_rate_hz": round(rate, 2)})


def draw_endplate_spike(rng, fs, duration_s, variant=0) -> Clip:
    """End-plate spikes: initial-negative biphasic spikes, 100–200 µV (ref [U]), 2–5 ms (choice),
    firing **irregularly** (ref): gamma intervals with CV 0.7–1.2 (choice) at 5–50 Hz (choice),
    3 ms minimum interval (choice; EPS have short minimum intervals, ref), 1–3 generators; in half
    of the clips over end-plate noise (then labelled ``endplate_noise`` under the spike events)."""
    base = draw_endplate_noise(rng, fs, duration_s) if rng.uniform() < 0.5 else None
    x = base.signal_uv if base else _new(fs, duration_s)
    times_all, trains = [], []
    for _ in range(int(rng.integers(1, 4))):
        rate, cv = loguniform(rng, 5, 50), rng.uniform(0.7, 1.2)
        t = renewal_train(rng, 0, duration_s, rate, cv, refractory_s=0.003)
        w = shapes.endplate_spike(rng, fs, rng.uniform(100, 200), rng.uniform(2, 5))
        place(x, w, t, fs, rng.uniform(0.85, 1.15, len(t)))
        times_all.append(t)
        trains.append(t)
    times = np.sort(np.concatenate(times_all))
    segs = list(base.segments) if base else []
    return Clip(x, segs, _events(times, "endplate_spike", duration_s), {"trains": trains})


#: Voluntary pools: (near-unit amplitude µV lo, hi), (duration ms lo, hi), extra HR components,
#: their weight, active near units per effort tier, rate (Hz) of the last recruited unit, rate step
#: per earlier-recruited unit (Hz), rate cap (Hz), distant-unit multiplier.
POOLS = {
    # ref: 300 µV–3 mV, 2–15 ms (TA 9.35 ms), polyphasic 10–15 %, onset ~7.6 Hz, recruitment ~11 Hz,
    # ~5.9 units at a site up to 30 % MVC; rate coding 5–30 Hz
    "normal": dict(amp=(300, 3000), dur=(6, 13), extra=(0, 1), weight=0.35, poly=0.15,
                   tiers=((1, 2), (3, 8), (9, 18)), r0=(5, 8), step=(1.5, 4.0), cap=30, distant=1.0),
    # choice: small (100–500 µV), short (2–6 ms), polyphasic, many units early, slower rates
    "myopathic": dict(amp=(100, 500), dur=(2, 6), extra=(3, 7), weight=0.7, poly=1.0,
                      tiers=((2, 5), (8, 15), (15, 30)), r0=(5, 7), step=(0.3, 1.0), cap=20, distant=1.5),
    # choice: large (1.5–6 mV), long (12–25 ms), few units firing fast (first unit > 15 Hz)
    "neurogenic": dict(amp=(1500, 6000), dur=(12, 25), extra=(2, 5), weight=0.5, poly=0.6,
                       tiers=((1, 1), (1, 3), (2, 5)), r0=(10, 15), step=(4.0, 8.0), cap=30, distant=0.3),
}
POOL_NAMES = tuple(POOLS)
EFFORTS = ("low", "moderate", "high")
#: Distant (small, smooth) units per effort tier (choice; real-emg.md §1.1: a dense background
#: of small distant potentials), 20–120 µV, 8–20 ms.
DISTANT = ((0, 5), (10, 30), (30, 80))


def draw_voluntary_muap(rng, fs, duration_s, variant=0) -> Clip:
    """A recruited pool at one effort: ``variant % 3`` picks the pool (normal, myopathic-looking,
    neurogenic-looking), ``(variant // 3) % 3`` the effort tier (low: one or two units ... high:
    interference). Rates: the last-recruited unit fires at ``r0``, each earlier one ``step`` Hz
    faster, capped; interval CV 10–35 % per unit (ref); a common drive modulates all rates by up
    to ±5 % at 0.5–2 Hz (choice, ref: common low-frequency drive above ~10 % MVC)."""
    pool_name, effort = POOL_NAMES[variant % 3], EFFORTS[(variant // 3) % 3]
    p = POOLS[pool_name]
    tier = EFFORTS.index(effort)
    x = _new(fs, duration_s)
    n_near = int(rng.integers(p["tiers"][tier][0], p["tiers"][tier][1] + 1))
    lo, hi = DISTANT[tier]
    n_far = int(round(rng.integers(lo, hi + 1) * p["distant"]))
    r0, step = rng.uniform(*p["r0"]), rng.uniform(*p["step"])
    m, fm, ph = rng.uniform(0, 0.05), rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
    units = []
    for k in range(n_near + n_far):
        near = k < n_near
        if near:
            amp = loguniform(rng, *p["amp"])
            dur = rng.uniform(*p["dur"])
            n_extra = int(rng.integers(p["extra"][0], p["extra"][1] + 1))
            if rng.uniform() < p["poly"]:
                n_extra = max(n_extra, 3)
            w = shapes.muap(rng, fs, amp, dur, n_extra, p["weight"])
            base = min(r0 + (n_near - 1 - k) * step, p["cap"])
        else:
            amp, dur = loguniform(rng, 20, 120), rng.uniform(8, 20)
            w = shapes.muap(rng, fs, amp, dur, int(rng.integers(0, 2)))
            base = rng.uniform(8, 25)
        cv = rng.uniform(0.10, 0.35)

        def rate(t, base=base):
            return base * (1 + m * np.sin(2 * np.pi * fm * t + ph))

        t = renewal_train(rng, 0, duration_s, rate, cv)
        place(x, w, t, fs)
        units.append({"near": near, "amp_uv": round(amp, 1), "duration_ms": round(dur, 2), "rate_hz": round(base, 2),
                      "cv": round(cv, 3), "times": t})
    meta = {"pool": pool_name, "effort": effort, "units": units}
    return Clip(x, [(0.0, float(duration_s), "voluntary_muap")], [], meta)


# ------------------------------------------------------------------ pathological activity

def _regular_generators(rng, fs, duration_s, label, make_wave, n_range=(1, 4)) -> Clip:
    """1–3 (choice) independent generators, each regular at 0.5–15 Hz (ref) with interval jitter of
    CV 1–5 % (choice), slowing by 0–30 % over the clip (choice; ref: may slow before stopping),
    amplitude varying ±5 % between discharges (choice)."""
    x = _new(fs, duration_s)
    times_all, gens = [], []
    for _ in range(int(rng.integers(*n_range))):
        r_start = rng.uniform(0.5, 15.0)
        slow = rng.uniform(0.0, 0.3)

        def rate(t, r=r_start, s=slow):
            return r * (1 - s * t / duration_s)

        t = renewal_train(rng, 0, duration_s, rate, rng.uniform(0.01, 0.05))
        w, info = make_wave()
        place(x, w, t, fs, rng.uniform(0.95, 1.05, len(t)))
        times_all.append(t)
        gens.append({"rate_hz": round(r_start, 3), "slowing": round(slow, 3), "times": t, **info})
    times = np.sort(np.concatenate(times_all))
    return Clip(x, [(0.0, float(duration_s), label)], _events(times, label, duration_s), {"generators": gens})


def draw_fibrillation(rng, fs, duration_s, variant=0) -> Clip:
    """Fibrillation potentials: bi-/triphasic spikes of 20–200 µV (ref) and 1–5 ms (ref), initial
    positive in 90 % (ref: initial negative only at the site of origin; 10 % is our choice), from 1–3
    regular generators (see :func:`_regular_generators`)."""
    def wave():
        amp, dur = loguniform(rng, 20, 200), rng.uniform(1, 5)
        pos = bool(rng.uniform() < 0.9)
        return shapes.fibre_spike(rng, fs, amp, dur, pos), {"amp_uv": amp, "duration_ms": dur, "initial_positive": pos}
    return _regular_generators(rng, fs, duration_s, "fibrillation", wave)


def draw_positive_sharp_wave(rng, fs, duration_s, variant=0) -> Clip:
    """Positive sharp waves: 10–30 ms (ref), amplitude 30–500 µV (choice: the reference gives none),
    firing as fibrillations (ref)."""
    def wave():
        amp, dur = loguniform(rng, 30, 500), rng.uniform(10, 30)
        return shapes.positive_sharp_wave(rng, fs, amp, dur), {"amp_uv": amp, "duration_ms": dur}
    return _regular_generators(rng, fs, duration_s, "positive_sharp_wave", wave)


def draw_fasciculation(rng, fs, duration_s, variant=0) -> Clip:
    """Fasciculation potentials: MUAP-like, 123–1480 µV (ref, ALS TA at full strength; 30 % of units
    from the partially denervated range 135–3599 µV), duration 12.6 ± 4.4 ms clipped to 2.8–23.9 ms
    (ref), 2–7 phases (ref; 0–5 extra HR components). Firing irregular and sparse (ref): 1–3 units,
    gamma intervals of CV 0.8–1.2 at 0.1–0.6 Hz each (choice); at least one potential per clip."""
    x = _new(fs, duration_s)
    times_all, units = [], []
    for _ in range(int(rng.integers(1, 4))):
        amp = loguniform(rng, 123, 1480) if rng.uniform() < 0.7 else loguniform(rng, 135, 3599)
        dur = float(np.clip(rng.normal(12.6, 4.4), 2.8, 23.9))
        w = shapes.muap(rng, fs, amp, dur, int(rng.integers(0, 6)), 0.5)
        t = renewal_train(rng, 0, duration_s, rng.uniform(0.1, 0.6), rng.uniform(0.8, 1.2))
        if not len(times_all) and not len(t):
            t = np.array([rng.uniform(0.3, duration_s - 0.3)])
        place(x, w, t, fs)
        times_all.append(t)
        units.append({"amp_uv": round(amp, 1), "duration_ms": round(dur, 2), "times": t})
    times = np.sort(np.concatenate(times_all))
    return Clip(x, [(0.0, float(duration_s), "fasciculation")], _events(times, "fasciculation", duration_s),
                {"units": units})


def draw_complex_repetitive_discharge(rng, fs, duration_s, variant=0) -> Clip:
    """CRD: one polyphasic complex of 3–10 fibre spikes (choice), 100–1000 µV (ref), repeated
    **identically** at a uniform rate of 5–100 Hz (ref) — interval jitter CV 0.2 % (choice) — in 1–2
    episodes of 2–8 s (choice) with abrupt start and stop; the complex lasts at most 70 % of the
    interval (choice), 3–40 ms."""
    x = _new(fs, duration_s)
    rate = loguniform(rng, 5, 100)
    dur = min(rng.uniform(3, 40), 0.7 * 1000 / rate)
    w = shapes.complex_potential(rng, fs, rng.uniform(100, 1000), dur, int(rng.integers(3, 11)))
    segs, times_all, t = [], [], 0.0 if rng.uniform() < 0.5 else rng.uniform(0.2, 2.0)
    while t < duration_s - 1.0 and len(segs) < 2:
        end = min(t + rng.uniform(2, 8), duration_s)
        tt = regular_train(rng, t, end, rate, 0.002)
        place(x, w, tt, fs)
        segs.append((round(t, 6), round(end, 6), "complex_repetitive_discharge"))
        times_all.append(tt)
        t = end + rng.uniform(0.3, 1.5)
    times = np.concatenate(times_all)
    return Clip(x, segs, _events(times, "complex_repetitive_discharge", duration_s),
                {"rate_hz": rate, "complex_ms": dur, "trains": times_all})


def _bump(s: np.ndarray, peak: float) -> np.ndarray:
    """A smooth 0→1→0 profile on s in [0, 1] peaking at ``peak`` (0 < peak < 1)."""
    a = 1 + 4 * peak / (1 - peak) if peak < 0.5 else 5.0
    b = 1 + 4 * (1 - peak) / peak if peak >= 0.5 else 5.0
    s = np.clip(s, 1e-9, 1 - 1e-9)
    f = s ** (a - 1) * (1 - s) ** (b - 1)
    sp = (a - 1) / (a + b - 2)
    return f / (sp ** (a - 1) * (1 - sp) ** (b - 1))


def draw_myotonic_discharge(rng, fs, duration_s, variant=0) -> Clip:
    """Myotonic discharges: a single fibre's potential, type 1 spike (< 5 ms, ref) in 60 % or type 2
    positive wave (5–20 ms, ref) in 40 % (choice), 20–300 µV (choice), whose rate **and** amplitude wax
    and wane (ref): rate from 20–40 Hz up to a peak of 40–150 Hz (ref: 20–80 AANEM, 20–150 [U]) and
    back, amplitude 30–100 % following the same profile, interval jitter CV 2–8 % (choice); 1–3
    episodes of 1–4 s (choice)."""
    x = _new(fs, duration_s)
    segs, times_all, eps = [], [], []
    t = rng.uniform(0, 1.0)
    while t < duration_s - 0.8 and len(segs) < 3:
        length = min(rng.uniform(1, 4), duration_s - t)
        lo = rng.uniform(20, 40)
        hi = rng.uniform(max(lo + 10, 40), 150)
        peak = rng.uniform(0.15, 0.6)
        t0 = t

        def rate(tt, t0=t0, length=length, lo=lo, hi=hi, peak=peak):
            return lo + (hi - lo) * _bump((tt - t0) / length, peak)

        tt = renewal_train(rng, t0, t0 + length, rate, rng.uniform(0.02, 0.08), random_phase=False)
        if rng.uniform() < 0.6:
            w = shapes.fibre_spike(rng, fs, 1.0, rng.uniform(1, 5), initial_positive=True)
        else:
            w = shapes.positive_sharp_wave(rng, fs, 1.0, rng.uniform(5, 20))
        amp = loguniform(rng, 20, 300)
        gains = amp * (0.3 + 0.7 * _bump((tt - t0) / length, peak))
        place(x, w, tt, fs, gains)
        segs.append((round(t0, 6), round(t0 + length, 6), "myotonic_discharge"))
        times_all.append(tt)
        eps.append({"rate_lo_hz": lo, "rate_peak_hz": hi, "amp_uv": amp, "times": tt})
        t = t0 + length + rng.uniform(0.3, 2.0)
    times = np.concatenate(times_all)
    return Clip(x, segs, _events(times, "myotonic_discharge", duration_s), {"episodes": eps})


def draw_myokymic_discharge(rng, fs, duration_s, variant=0) -> Clip:
    """Myokymic discharges: bursts of one normal-looking unit's MUAP (300–1500 µV, 6–13 ms, choice
    within the normal ref range), 30–60 Hz within bursts (ref), bursts recurring semi-rhythmically
    at 2–10 Hz (ref) with burst-interval CV 10–25 % (choice), 2–10 discharges per burst (choice) but
    the burst at most 60 % of its period; 1–2 units (choice), the whole clip."""
    x = _new(fs, duration_s)
    times_all, units = [], []
    for _ in range(int(rng.integers(1, 3))):
        w = shapes.muap(rng, fs, loguniform(rng, 300, 1500), rng.uniform(6, 13), int(rng.integers(0, 2)))
        rec, inner = rng.uniform(2, 10), rng.uniform(30, 60)
        n_max = max(2, int(0.6 * inner / rec) + 1)
        onsets = renewal_train(rng, 0, duration_s, rec, rng.uniform(0.10, 0.25))
        n_per = int(rng.integers(2, 11))
        tt = []
        for b in onsets:
            n = min(n_per + int(rng.integers(-1, 2)), n_max)
            tt.append(regular_train(rng, b, duration_s, inner, 0.05)[:max(n, 2)])
        tt = np.sort(np.concatenate(tt)) if tt else np.zeros(0)
        place(x, w, tt, fs)
        times_all.append(tt)
        units.append({"burst_rate_hz": rec, "inner_rate_hz": inner, "bursts": onsets, "times": tt})
    times = np.sort(np.concatenate(times_all))
    return Clip(x, [(0.0, float(duration_s), "myokymic_discharge")],
                _events(times, "myokymic_discharge", duration_s), {"units": units})


def draw_neuromyotonic_discharge(rng, fs, duration_s, variant=0) -> Clip:
    """Neuromyotonic discharges: one unit (MUAP 300–1500 µV, 3–8 ms, choice) firing at > 150 Hz
    (ref; drawn 160–300 Hz, choice) for 0.5–2 s (ref) with abrupt start and stop, amplitude
    decrementing exponentially to 20–60 % (choice) by the end, interval jitter CV 2–5 % (choice);
    1–3 trains per clip with ≥ 0.3 s between them."""
    x = _new(fs, duration_s)
    segs, times_all, trains = [], [], []
    t = rng.uniform(0.1, 1.5)
    while t < duration_s - 0.6 and len(segs) < 3:
        length = min(rng.uniform(0.5, 2.0), duration_s - t)
        rate = rng.uniform(160, 300)
        w = shapes.muap(rng, fs, loguniform(rng, 300, 1500), rng.uniform(3, 8), int(rng.integers(0, 2)))
        tt = regular_train(rng, t, t + length, rate, rng.uniform(0.02, 0.05))
        end_frac = rng.uniform(0.2, 0.6)
        gains = end_frac ** ((tt - t) / length)
        place(x, w, tt, fs, gains)
        segs.append((round(t, 6), round(t + length, 6), "neuromyotonic_discharge"))
        times_all.append(tt)
        trains.append({"rate_hz": rate, "end_fraction": end_frac, "times": tt})
        t = t + length + rng.uniform(0.3, 2.5)
    times = np.concatenate(times_all)
    return Clip(x, segs, _events(times, "neuromyotonic_discharge", duration_s), {"trains": trains})


DRAWERS = {
    "rest": draw_rest, "insertional": draw_insertional, "endplate_noise": draw_endplate_noise,
    "endplate_spike": draw_endplate_spike, "voluntary_muap": draw_voluntary_muap,
    "fibrillation": draw_fibrillation, "positive_sharp_wave": draw_positive_sharp_wave,
    "fasciculation": draw_fasciculation, "complex_repetitive_discharge": draw_complex_repetitive_discharge,
    "myotonic_discharge": draw_myotonic_discharge, "myokymic_discharge": draw_myokymic_discharge,
    "neuromyotonic_discharge": draw_neuromyotonic_discharge,
}
