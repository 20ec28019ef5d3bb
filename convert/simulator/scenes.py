"""Scenes: class episodes over background, sequenced into recordings with labels and events.

An *episode* is one class pattern (e.g. 6 s of fibrillations) rendered in µV; a *recording*
is background (noise, hum, drift) over its whole length plus a sequence of episodes, passed
through the amplifier model. Every range below cites /work/shared/reference/clinical-waveforms.md
§2 ("CW") or /work/shared/reference/real-emg.md ("RE"); where the simulator draws from a narrower part of a clinical range, the comment
says why (usually: so that a 1 s analysis window still shows the pattern).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy.signal import oaconvolve

from convert.recording import Recording, Segment
from convert.simulator import discharges as dis
from convert.simulator import motor_units as mu
from convert.simulator import waveforms as wf
from convert.simulator.amplifier import AmplifierConfig, amplify
from convert.simulator.background import background as make_background
from convert.simulator.subject import MU_POOL_SIZE, Subject
from convert.taxonomy import LABELS, PATHOLOGICAL, canonical_label

#: Bump when the generated signals change for a given seed (recorded in corpus manifests).
GENERATOR_VERSION = "1.7.0"

MIN_RATE_HZ = 8000
MAX_RATE_HZ = 48000
MAX_DURATION_S = 3600.0

#: Backgrounds a pathological episode may sit on (issue 4: endplate noise, voluntary motor
#: units, insertional bursts). "auto" draws one of these or none.
OVERLAYS: tuple[str, ...] = ("endplate_noise", "voluntary_muap", "insertional")
_OVERLAY_P = {"none": 0.6, "endplate_noise": 0.15, "voluntary_muap": 0.1, "insertional": 0.15}
#: Classes whose episodes have stretches without their own potentials (sparse discharges,
#: pauses between bursts). Such a stretch is labelled by its background, and an overlay has
#: no segment of its own, so these get no overlay (it would be labelled rest).
_NO_OVERLAY = ("fasciculation", "neuromyotonic_discharge")

_SCENE_STREAM = 0x5CE7E


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


@dataclass
class Episode:
    """A rendered episode: µV signal, events (t_s, label), labelled active spans (s) and the
    normal activity it sits on (``background``: "none" or one of :data:`OVERLAYS`)."""

    signal: np.ndarray
    events: list[tuple[float, str]] = field(default_factory=list)
    spans: list[tuple[float, float, str]] = field(default_factory=list)
    background: str = "none"


class _Canvas:
    """Accumulates potentials placed at event times into an episode buffer."""

    def __init__(self, n: int, sample_rate: float):
        self.fs = float(sample_rate)
        self.buf = np.zeros(n)
        self.events: list[tuple[float, str]] = []

    @property
    def duration_s(self) -> float:
        return len(self.buf) / self.fs

    def place(self, times_s, template: np.ndarray, amps_uv, label: str | None) -> None:
        """Add ``template`` × ``amps_uv`` with its largest deflection at each time in ``times_s``."""
        times = np.asarray(times_s, dtype=float)
        amps = np.broadcast_to(np.asarray(amps_uv, dtype=float), times.shape)
        if times.size == 0:
            return
        n, L = len(self.buf), len(template)
        idx = np.rint(times * self.fs).astype(np.int64) - wf.peak_index(template)
        if times.size * L < 4 * n:  # sparse: direct slice adds are cheaper than a convolution
            for i, a in zip(idx, amps):
                lo, hi = max(i, 0), min(i + L, n)
                if hi > lo:
                    self.buf[lo:hi] += a * template[lo - i:hi - i]
        else:  # dense: impulse train convolved with the template
            imp = np.zeros(n + L)
            ok = (idx + L >= 0) & (idx + L < n + L)
            np.add.at(imp, idx[ok] + L, amps[ok])
            self.buf += oaconvolve(imp, template)[L:L + n]
        if label is not None:
            keep = (times >= 0) & (times < self.duration_s)
            self.events.extend((float(t), label) for t in times[keep])

    def episode(self, spans: list[tuple[float, float, str]], background: str) -> Episode:
        return Episode(self.buf, sorted(self.events), spans, background)


# ---------------------------------------------------------------------------------------
# Class renderers. Each draws its parameters from ``rng`` and the subject's anatomy.
# ---------------------------------------------------------------------------------------

def _fibre_amplitude(rng: np.random.Generator, subject: Subject, lo: float, hi: float) -> float:
    # Keep the potential ≥ 8× the noise RMS peak-to-peak (its main peak ≈ 5× RMS) so that
    # the pattern is identifiable at all (a smaller one is not called by a clinician either).
    a = _loguniform(rng, lo, hi) * subject.fibre_scale
    return float(np.clip(a, max(lo, 8.0 * subject.noise_uv_rms), max(hi, 8.0 * subject.noise_uv_rms)))


def _fibrillation(c: _Canvas, rng, subject: Subject) -> None:
    # 1–3 fibres; further fibres are further from the needle, hence smaller.
    n_fibres = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    amp = _fibre_amplitude(rng, subject, 40.0, 200.0)  # 20–200 µV (CW, StatPearls)
    for _ in range(n_fibres):
        dur = rng.uniform(1.3, 4.0)  # 1–5 ms (CW, StatPearls); template span, measured ≈ 0.8×
        # Regular, 0.5–15 Hz (CW, StatPearls). Drawn from 2–15 Hz: below that a 1 s window
        # holds one spike or none, and regularity cannot be heard in it.
        rate = _loguniform(rng, 2.0, 15.0)
        times = dis.regular(rng, c.duration_s, rate, cv=rng.uniform(0.005, 0.03), slowing=rng.uniform(0.0, 0.08))
        c.place(times, wf.fibrillation(c.fs, dur, skew=rng.uniform(-1, 1)), amp, "fibrillation")
        amp = amp * rng.uniform(0.25, 0.5)


def _positive_sharp_wave(c: _Canvas, rng, subject: Subject) -> None:
    n_sources = int(rng.choice([1, 2], p=[0.65, 0.35]))
    # Amplitude is not given in CW; PSWs arise from the same single fibres as fibrillations
    # and are drawn a little larger (50–400 µV) [U].
    amp = _fibre_amplitude(rng, subject, 50.0, 400.0)
    for _ in range(n_sources):
        dur = rng.uniform(12.0, 29.0)  # 10–30 ms (CW, StatPearls); template span, measured ≈ 0.9–1.1×
        rate = _loguniform(rng, 2.0, 15.0)  # "as fibrillations (regular)" (CW); see above
        times = dis.regular(rng, c.duration_s, rate, cv=rng.uniform(0.005, 0.03), slowing=rng.uniform(0.0, 0.08))
        tmpl = wf.positive_sharp_wave(c.fs, dur, rise_ms=rng.uniform(0.5, 1.2), negative_ratio=rng.uniform(0.22, 0.4))
        c.place(times, tmpl, amp, "positive_sharp_wave")
        amp = amp * rng.uniform(0.25, 0.5)


def _fasciculation(c: _Canvas, rng, subject: Subject) -> None:
    n_units = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    for _ in range(n_units):
        # ALS TA: 560.6 ± 366.9 µV (123–1480), partially denervated up to 3.6 mV;
        # 12.6 ± 4.4 ms (2.8–23.9); 3.25 phases (2–7) (CW, JNNP table).
        # Kept ≥ 300 µV and ≥ 7 ms: smaller, briefer FPs (benign FPs are smaller and shorter,
        # CW Hindawi 2021) would pass for single-fibre potentials in one 1 s window.
        amp = float(np.clip(560.6 * np.exp(rng.normal(0.2, 0.5)), 300.0, 3000.0))
        dur = float(np.clip(rng.normal(12.6, 4.4), 7.0, 23.9))
        phases = int(rng.integers(5, 8)) if rng.random() < 0.16 else int(rng.integers(2, 5))
        unit = mu.Unit(scatter_ms=dur / mu._DURATION_PER_SCATTER, near_um=rng.uniform(25.0, 120.0),
                       shape_seed=int(rng.integers(2**31 - 1)), polyphasic=phases > 4)
        tmpl = mu.muap(unit, subject.needle, c.fs)
        amp = amp * mu.needle_gain(subject.needle)
        # Spontaneous, irregular, sparse (CW). Clinically one may wait up to 90 s for one FP;
        # episodes are enriched to ~0.5–1.2 Hz per unit so that several occur per episode.
        times = dis.poisson(rng, c.duration_s, _loguniform(rng, 0.5, 1.2), dead_time_s=0.1)
        c.place(times, tmpl, amp * rng.uniform(0.95, 1.05, len(times)), "fasciculation")


def _complex_repetitive(c: _Canvas, rng, subject: Subject) -> None:
    # Polyphasic complex, 100 µV–1 mV, identical from discharge to discharge (CW, nervestudy).
    length = rng.uniform(5.0, 35.0)
    tmpl = wf.crd_complex(c.fs, length, int(rng.integers(4, 11)), int(rng.integers(2**31 - 1)))
    # Its fibres may be near (sharp, broadband) or further away (blunter, low-frequency):
    # what defines a CRD is the identical complex at a machine-regular rate, not its
    # bandwidth (RE §1.1: "broadband + repetitive" must not be what the model learns).
    if rng.random() < 0.4:
        tmpl = np.convolve(tmpl, np.hanning(max(3, int(rng.uniform(0.4, 1.5) * c.fs / 1000))), "full")
        tmpl = tmpl / np.ptp(tmpl)
    amp = _loguniform(rng, 100.0, 1000.0)
    # Uniform rate, commonly 5–100 Hz [U] (CW), leaving room for the complex itself within
    # one period.
    rate = min(_loguniform(rng, 5.0, 100.0), 1000.0 / (length + 5.0))
    times = dis.constant(rng, c.duration_s, rate, jitter_s=2e-5)
    c.place(times, tmpl, amp, "complex_repetitive_discharge")


def _myotonic(c: _Canvas, rng, subject: Subject) -> None:
    # Type 1: fib-like spikes < 5 ms; type 2: positive waves 5–20 ms; single fibres (CW, AANEM).
    # Amplitudes from the upper part of the single-fibre range and ≥ 12× the noise RMS, so
    # that the waning tail (45 % of the peak) stays above the noise.
    floor = 12.0 * subject.noise_uv_rms
    if rng.random() < 0.5:
        tmpl = wf.fibrillation(c.fs, rng.uniform(1.3, 4.0), skew=rng.uniform(-1, 1))
        amp = max(_fibre_amplitude(rng, subject, 80.0, 400.0), floor)
    else:
        tmpl = wf.positive_sharp_wave(c.fs, rng.uniform(6.0, 14.0), rise_ms=rng.uniform(0.5, 1.0),
                                      negative_ratio=rng.uniform(0.2, 0.35))
        amp = max(_fibre_amplitude(rng, subject, 100.0, 500.0), floor)
    t0 = rng.uniform(0.0, 0.1)
    while t0 < c.duration_s:
        length = rng.uniform(0.6, 2.0)
        # Rate waxes and wanes within 20–80 Hz (AANEM) / 20–150 Hz (StatPearls [U]) (CW);
        # the peak rate is drawn from the upper part so that the swing is heard ("dive bomber").
        lo, peak = rng.uniform(22.0, 35.0), rng.uniform(70.0, 145.0)
        times, amps = dis.wax_wane(rng, length, lo, peak, rise_frac=rng.uniform(0.1, 0.4))
        times = times + t0
        c.place(times, tmpl, amp * amps, "myotonic_discharge")
        t0 += length + rng.uniform(0.06, 0.25)  # short pause: a run of discharges, not bursts


def _pool_unit(rng, subject: Subject, c: _Canvas, duration_ms: float | None = None,
               smallest: bool = False) -> tuple[np.ndarray, float]:
    # A unit of the subject's pool, built from its fibres (motor_units), through the needle.
    i = 0 if smallest else int(rng.integers(len(subject.mu_amplitude_uv)))
    tmpl = mu.muap(mu.unit_of(subject, i, duration_ms), subject.needle, c.fs)
    return tmpl, subject.mu_amplitude_uv[i] * mu.needle_gain(subject.needle)


def _myokymic(c: _Canvas, rng, subject: Subject) -> None:
    # Grouped discharges of normal-looking MUAPs: bursts recur semi-rhythmically at 2–10 Hz
    # (MedLink; issue: 1–10 Hz) with 30–60 Hz within bursts (CW, Medscape, Gutmann).
    n_units = 1 if rng.random() < 0.7 else 2
    for _ in range(n_units):
        tmpl, amp = _pool_unit(rng, subject, c)
        burst_rate = rng.uniform(1.5, 8.0)
        intra = rng.uniform(32.0, 58.0)
        k_max = int(max(2, min(8, np.floor((1.0 / burst_rate - 0.05) * intra) + 1)))
        times, _ = dis.grouped(rng, c.duration_s, burst_rate, rng.uniform(0.05, 0.15),
                               (min(3, k_max), k_max), intra)
        c.place(times, tmpl, amp * rng.uniform(0.95, 1.05, len(times)), "myokymic_discharge")


def _neuromyotonic(c: _Canvas, rng, subject: Subject) -> list[tuple[float, float, str]]:
    # Single motor unit at > 150 Hz for 0.5–2 s, decrementing, abrupt start/stop (CW, Bednarik).
    # At 150–300 Hz successive MUAPs overlap, so the unit's potential is taken short (3–6 ms).
    tmpl, amp = _pool_unit(rng, subject, c, duration_ms=rng.uniform(3.0, 6.0))
    spans = []
    t0 = rng.uniform(0.0, 0.2)
    while t0 < c.duration_s:
        length = min(rng.uniform(0.5, 2.0), c.duration_s - t0)
        start = rng.uniform(170.0, 300.0)
        end = max(160.0, start * rng.uniform(0.7, 0.95))
        times, amps = dis.decrementing(rng, length, start, end, end_amplitude=rng.uniform(0.25, 0.6))
        c.place(times + t0, tmpl, amp * amps, "neuromyotonic_discharge")
        if length > 0.05:
            spans.append((t0, t0 + length, "neuromyotonic_discharge"))
        t0 += length + rng.uniform(0.2, 0.8)
    return spans


def _endplate_noise(c: _Canvas, rng, subject: Subject, scale: float = 1.0) -> None:
    # Non-propagated MEPPs forming an irregular noisy baseline, 10–50 µV [U] (CW).
    # Rates low enough that single negative MEPPs stand out of the baseline ("seashell").
    rate = _loguniform(rng, 150.0, 800.0)
    for dur in (rng.uniform(1.0, 1.8), rng.uniform(1.8, 3.0)):
        times = dis.poisson(rng, c.duration_s, rate / 2)
        amps = scale * subject.mepp_uv * np.exp(rng.normal(0.0, 0.5, len(times)))
        c.place(times, wf.mepp(c.fs, dur), amps, None)  # too many to list as events


def _endplate_spike(c: _Canvas, rng, subject: Subject) -> None:
    # Endplate spikes occur at the endplate, over its noise (CW, StatPearls).
    bed = rng.uniform(0.6, 1.0)
    _endplate_noise(c, rng, subject, scale=bed)
    n = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
    for _ in range(n):
        # 100–200 µV [U] (CW), initial negative, irregular, short minimum intervals (CW,
        # Partanen 2013). Drawn 100–300 µV peak-to-peak, and ≥ 12× the needle noise and
        # 8× the median MEPP so that spikes stand out of the endplate noise they ride on.
        amp = max(_loguniform(rng, 100.0, 300.0), 12.0 * subject.noise_uv_rms, 8.0 * bed * subject.mepp_uv)
        tmpl = wf.endplate_spike(c.fs, rng.uniform(2.0, 4.5))
        times = dis.bursty(rng, c.duration_s, rng.uniform(6.0, 25.0), cv=rng.uniform(0.7, 1.3), min_interval_s=0.004)
        c.place(times, tmpl, amp * np.exp(rng.normal(0.0, 0.08, len(times))), "endplate_spike")


def _insertional_burst(c: _Canvas, rng, t0: float, length: float, scale: float = 1.0,
                       label: str | None = "insertional") -> None:
    """One burst of fibre potentials after a needle movement, plus the movement artefact."""
    n_fibres = int(rng.integers(4, 9))
    rate0 = rng.uniform(300.0, 800.0)
    tau = length / 3.0
    for _ in range(n_fibres):
        if rng.random() < 0.6:
            tmpl = wf.fibrillation(c.fs, rng.uniform(1.2, 4.0), skew=rng.uniform(-1, 1))
        else:
            tmpl = wf.positive_sharp_wave(c.fs, rng.uniform(5.0, 12.0))
        # Poisson spikes whose rate decays over the burst (thinning).
        times = dis.poisson(rng, length, rate0 / n_fibres)
        times = times[rng.random(len(times)) < np.exp(-times / tau)]
        env = np.exp(-times / (1.5 * tau))
        amps = scale * _loguniform(rng, 50.0, 500.0) * env
        c.place(times + t0, tmpl, amps, label)
    # Needle movement artefact: a smooth biphasic transient, 5–20 ms wide.
    w = rng.uniform(5.0, 20.0)
    t = np.arange(-4 * w, 4 * w, 1000.0 / c.fs)
    art = -t / w * np.exp(-0.5 * (t / w) ** 2)
    c.place([t0], art / (art.max() - art.min()), scale * rng.uniform(100.0, 600.0), None)


def _insertional(c: _Canvas, rng, subject: Subject) -> None:
    # Brief bursts with needle movement, ~300–500 ms (≤ 500 ms normal) (CW, Wheeless, Aminoff).
    # An episode is the examiner stepping the needle through the muscle: a movement every
    # 0.45–1.2 s, so that any 1 s stretch of the episode holds a burst. The episode is
    # labelled as a whole.
    t0 = rng.uniform(0.0, 0.2)
    while t0 < c.duration_s - 0.05:
        length = min(rng.uniform(0.15, 0.5), c.duration_s - t0)
        _insertional_burst(c, rng, t0, length)
        t0 += length + rng.uniform(0.3, 0.7)
    return None


#: Voluntary episode variants and their shares. All are normal activity, ``voluntary_muap``
#: (issue 11): "ramp" = effort ramps and holds from threshold to an interference pattern;
#: the rest are hard negatives for spontaneous classes: "threshold" = one unit at 6–10 Hz,
#: ISI CV 0.1–0.2 (vs fibrillation CV < 0.03, CRD CV ≈ 0); "tremor" = several different units
#: synchronised into 4–8 Hz bursts, each once or twice per burst (vs myokymia: one unit,
#: 30–60 Hz groups); "movement" = needle moved during a contraction (artefact + brief
#: insertional-like burst over ongoing activity).
VOLUNTARY_VARIANTS = {"ramp": 0.65, "threshold": 0.15, "tremor": 0.10, "movement": 0.10}

_STEP_S = 1e-3
#: Distant units in the pick-up of a needle (background of small, blunt MUAPs; RE §1.1:
#: the real baseline during contraction is never quiet). 1.5.0: 60 (was 30) and 20–150 µV (was
#: 15–120 µV): at 30 the 20 ms RMS during contraction stayed below 15 µV, under the record's 25 µV.
_N_DISTANT = 60


def _effort_path(rng, duration_s: float, level: tuple[float, float]) -> np.ndarray:
    """Effort (fraction of MVC) every 1 ms: ramps and holds between levels drawn
    log-uniformly within ``level`` (the examiner asks for more, then less, effort)."""
    n = max(int(np.ceil(duration_s / _STEP_S)), 2)
    t_knots, v_knots, t = [0.0], [_loguniform(rng, *level)], 0.0
    while t < duration_s:
        t += rng.uniform(0.3, 1.5)  # ramp
        t_knots.append(t)
        v_knots.append(_loguniform(rng, *level))
        t += rng.uniform(0.3, 2.0)  # hold
        t_knots.append(t)
        v_knots.append(v_knots[-1])
    return np.interp(np.arange(n) * _STEP_S, t_knots, v_knots)


def _pool_thresholds(subject: Subject) -> tuple[np.ndarray, float]:
    """Recruitment thresholds of the subject's pool and the normal step between them. A
    neurogenic pool keeps the thresholds of the units that survived (reduced recruitment)."""
    normal = mu.thresholds(MU_POOL_SIZE, "normal")
    spacing = float(normal[1] / normal[0])
    if subject.muscle_state == "neurogenic":
        idx = np.linspace(0, MU_POOL_SIZE - 1, len(subject.mu_amplitude_uv)).round().astype(int)
        return normal[idx], spacing
    return mu.thresholds(len(subject.mu_amplitude_uv), subject.muscle_state), spacing


def _distant_background(c: _Canvas, rng, subject: Subject, effort: np.ndarray, scale: float = 1.0) -> None:
    """Small, blunt potentials of distant units, recruited with effort like the near pool.
    Amplitudes 20–150 µV concentric (a chosen range: a unit 0.3–1.5 mm away is a few % of a
    near one's size), × the needle's gain; no events (too many, and not scored)."""
    thr = mu.thresholds(_N_DISTANT, "myopathic" if subject.muscle_state == "myopathic" else "normal")
    normal = mu.thresholds(_N_DISTANT, "normal")
    trains = mu.pool_trains(rng, effort, _STEP_S, thr, float(normal[1] / normal[0]) ** (_N_DISTANT / MU_POOL_SIZE),
                            subject.muscle_state)
    gain = scale * mu.needle_gain(subject.needle)
    for times in trains:
        unit = mu.distant_unit(rng, subject.muscle_state)
        amp = gain * _loguniform(rng, 20.0, 150.0)
        if len(times):
            c.place(times, mu.muap(unit, subject.needle, c.fs), amp * np.exp(rng.normal(0.0, 0.05, len(times))), None)


def _place_unit(c: _Canvas, rng, subject: Subject, i: int, times, amp_scale: float = 1.0) -> None:
    if len(times) == 0:
        return
    tmpl = mu.muap(mu.unit_of(subject, i), subject.needle, c.fs)
    amp = amp_scale * subject.mu_amplitude_uv[i] * mu.needle_gain(subject.needle)
    c.place(times, tmpl, amp * np.exp(rng.normal(0.0, 0.03, len(times))), "voluntary_muap")


def _voluntary_ramp(c: _Canvas, rng, subject: Subject, level: tuple[float, float] = (0.01, 0.4),
                    max_units: int | None = None, amp_scale: float = 1.0) -> None:
    # Recruitment and rate coding of the pool (motor_units: CW §2 Aminoff/Petajan, RE §2),
    # common drive < 2 Hz, over an effort path of ramps and holds.
    effort = _effort_path(rng, c.duration_s, level)
    thr, spacing = _pool_thresholds(subject)
    n = len(thr) if max_units is None else min(max_units, len(thr))
    trains = mu.pool_trains(rng, effort, _STEP_S, thr[:n], spacing, subject.muscle_state)
    for i, times in enumerate(trains):
        _place_unit(c, rng, subject, i, times, amp_scale)
    _distant_background(c, rng, subject, effort, scale=amp_scale)


def _voluntary_threshold(c: _Canvas, rng, subject: Subject) -> None:
    # One unit just above threshold: 6–10 Hz (onset ~7.6 Hz, CW §2), ISI CV 0.1–0.2 (RE §2),
    # over the few distant units recruited at that effort.
    rate = rng.uniform(6.0, 10.0)
    n = max(int(np.ceil(c.duration_s / _STEP_S)), 2)
    drive = mu.common_drive(rng, n, _STEP_S, 0.03)
    times = dis.renewal_train(rng, rate * drive, _STEP_S, rng.uniform(0.1, 0.2))
    _place_unit(c, rng, subject, 0, times)
    _distant_background(c, rng, subject, np.full(n, 0.008))


def _voluntary_tremor(c: _Canvas, rng, subject: Subject) -> None:
    # Tremor-grouped voluntary activity: several DIFFERENT units fire together in bursts at
    # 4–8 Hz, each once or twice per burst (unlike myokymia: one unit's 30–60 Hz group, CW §2).
    n_units = min(int(rng.integers(3, 7)), len(subject.mu_amplitude_uv))
    onsets = dis.regular(rng, c.duration_s, rng.uniform(4.0, 8.0), cv=rng.uniform(0.05, 0.15))
    for i in range(n_units):
        times = []
        for t0 in onsets:
            if rng.random() < 0.85:
                t = t0 + rng.normal(0.0, 0.008)
                times.append(t)
                if rng.random() < 0.3:
                    times.append(t + rng.uniform(0.01, 0.025))
        times = np.sort(np.asarray(times))
        _place_unit(c, rng, subject, i, times[(times >= 0) & (times < c.duration_s)])
    effort = np.full(max(int(np.ceil(c.duration_s / _STEP_S)), 2), rng.uniform(0.02, 0.08))
    _distant_background(c, rng, subject, effort)


def _voluntary_movement(c: _Canvas, rng, subject: Subject) -> None:
    # Needle moved during a contraction: artefact + brief insertional-like burst (CW §2
    # "Insertional activity", ≤ 500 ms) over ongoing voluntary activity; labelled voluntary.
    _voluntary_ramp(c, rng, subject, level=(0.02, 0.4))
    for _ in range(int(rng.integers(1, 3))):
        t0 = rng.uniform(0.0, max(c.duration_s - 0.3, 0.01))
        _insertional_burst(c, rng, t0, min(rng.uniform(0.1, 0.3), c.duration_s - t0),
                           scale=rng.uniform(0.4, 1.0), label=None)


_VOLUNTARY = {"ramp": _voluntary_ramp, "threshold": _voluntary_threshold, "tremor": _voluntary_tremor,
              "movement": _voluntary_movement}


def _voluntary(c: _Canvas, rng, subject: Subject, variant: str | None = None) -> None:
    if variant is None:
        names = list(VOLUNTARY_VARIANTS)
        variant = str(rng.choice(names, p=[VOLUNTARY_VARIANTS[k] for k in names]))
    if variant not in _VOLUNTARY:
        raise ValueError(f"voluntary variant {variant!r}: allowed values are {', '.join(_VOLUNTARY)}")
    _VOLUNTARY[variant](c, rng, subject)


def render_voluntary(variant: str, duration_s: float, sample_rate: float, subject: Subject,
                     seed: int) -> Episode:
    """One voluntary episode of a given variant (see :data:`VOLUNTARY_VARIANTS`), in µV,
    without background: for tests and realism checks."""
    c = _Canvas(int(round(duration_s * sample_rate)), sample_rate)
    _voluntary(c, np.random.default_rng([int(seed), _SCENE_STREAM, 2]), subject, variant)
    return c.episode([(0.0, c.duration_s, "voluntary_muap")], "none")


#: label → renderer; a renderer returns its active spans or None for "the whole episode".
_RENDERERS: dict[str, Callable] = {
    "rest": lambda c, rng, s: None,
    "insertional": _insertional,
    "endplate_noise": _endplate_noise,
    "endplate_spike": _endplate_spike,
    "voluntary_muap": _voluntary,
    "fibrillation": _fibrillation,
    "positive_sharp_wave": _positive_sharp_wave,
    "fasciculation": _fasciculation,
    "complex_repetitive_discharge": _complex_repetitive,
    "myotonic_discharge": _myotonic,
    "myokymic_discharge": _myokymic,
    "neuromyotonic_discharge": _neuromyotonic,
}
assert set(_RENDERERS) == set(LABELS)


def _overlay(c: _Canvas, rng, subject: Subject, kind: str) -> None:
    """Normal activity under a pathological episode, kept below the pattern's prominence.
    It gets no segment of its own (segments do not overlap; the episode is labelled by its
    pathology); its potentials are in the events and the episode's ``background``."""
    if kind == "endplate_noise":
        _endplate_noise(c, rng, subject, scale=rng.uniform(0.3, 0.6))
    elif kind == "voluntary_muap":
        # The patient not fully relaxed: the smallest unit(s), distant from the needle, hence
        # smaller and blunter (volume conduction low-passes them; unlike brief fibre spikes).
        _voluntary_ramp(c, rng, subject, level=(0.005, 0.015), max_units=2, amp_scale=rng.uniform(0.2, 0.4))
    elif kind == "insertional":
        # The needle movement that set the discharge off (CRD and myotonic discharges are
        # often triggered by insertion, CW).
        _insertional_burst(c, rng, rng.uniform(0.0, 0.2), min(rng.uniform(0.15, 0.4), c.duration_s),
                           scale=rng.uniform(0.3, 0.6))
    elif kind != "none":
        raise ValueError(f"background {kind!r}: use one of auto, none, {', '.join(OVERLAYS)}")


def render_episode(label: str, duration_s: float, sample_rate: float, subject: Subject,
                   rng: np.random.Generator, background: str = "auto") -> Episode:
    """Render one class episode (no noise/hum/drift; see :func:`simulate_clip`) in µV."""
    n = int(round(duration_s * sample_rate))
    c = _Canvas(n, sample_rate)
    if background == "auto":
        if label in PATHOLOGICAL and label not in _NO_OVERLAY:
            kinds = list(_OVERLAY_P)
            background = str(rng.choice(kinds, p=[_OVERLAY_P[k] for k in kinds]))
        else:
            background = "none"
    # The overlay is drawn first (the draws keep their order), on its own canvas, so that it
    # can be scaled under the pattern once the pattern's size is known.
    under = _Canvas(n, sample_rate)
    _overlay(under, rng, subject, background)
    spans = _RENDERERS[label](c, rng, subject)
    if spans is None:
        spans = [] if label == "rest" else [(0.0, c.duration_s, label)]
    own = [t for t, lab in c.events if lab == label]
    if label in PATHOLOGICAL and not own:
        # Nothing of the class fired (a sparse fasciculation episode can stay silent): the
        # stretch shows its background, so it is labelled by it, not by a span of the class.
        spans = []
    if background != "none":
        c.buf += overlay_gain(under.buf, c.buf, own, c.fs) * under.buf
        c.events.extend(under.events)
    return c.episode(spans, background)


#: An overlay's level (95th percentile of its 100 ms block maxima, µV) may be at most this share
#: of the pattern's typical potential (median peak of its events). Spontaneous activity is read
#: in a relaxed muscle: small voluntary units or endplate noise as large as the fibrillation
#: potentials hide them, and such a stretch is not read as fibrillation (CW). Before 1.6.0 the
#: overlay was drawn without this bound: under fibrillations, the voluntary overlay's level was
#: a median 4.8× the potentials' peak (87 % of episodes above 1×), endplate noise 0.85×.
OVERLAY_PROMINENCE = 0.5


def overlay_gain(overlay: np.ndarray, pattern: np.ndarray, events_s: list[float], fs: float) -> float:
    """Gain (≤ 1) that keeps ``overlay`` at most :data:`OVERLAY_PROMINENCE` of the pattern's
    typical potential: the median over ``events_s`` of the pattern's largest |µV| within ±2 ms
    (without events: the 95th percentile of the pattern's own 100 ms block maxima)."""
    level = _block_level(overlay, fs)
    if level <= 0.0:
        return 1.0
    w = max(int(round(0.002 * fs)), 1)
    idx = [int(round(t * fs)) for t in events_s]
    peaks = [np.abs(pattern[max(i - w, 0):i + w + 1]).max() for i in idx if 0 <= i < len(pattern)]
    size = float(np.median(peaks)) if peaks else _block_level(pattern, fs)
    return float(min(1.0, OVERLAY_PROMINENCE * size / level))


def _block_level(x: np.ndarray, fs: float) -> float:
    """95th percentile of |x|'s maxima over 100 ms blocks (µV): the level most of it stays under."""
    b = max(int(round(0.1 * fs)), 1)
    m = len(x) // b
    if m == 0:
        return float(np.abs(x).max()) if len(x) else 0.0
    return float(np.percentile(np.abs(x[:m * b]).reshape(m, b).max(axis=1), 95))


# ---------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------

def _check_args(duration_s: float, sample_rate: int, seed: int) -> None:
    if not (isinstance(sample_rate, (int, np.integer)) and MIN_RATE_HZ <= sample_rate <= MAX_RATE_HZ):
        raise ValueError(f"sample_rate = {sample_rate}: allowed range is {MIN_RATE_HZ}..{MAX_RATE_HZ} Hz (integer)")
    if not (0.0 < float(duration_s) <= MAX_DURATION_S):
        raise ValueError(f"duration_s = {duration_s}: allowed range is >0..{MAX_DURATION_S:g} s")
    if int(seed) < 0:
        raise ValueError(f"seed = {seed}: must be >= 0")


def _finish(x_uv: np.ndarray, episodes: list[tuple[float, Episode, str]], sample_rate: int, seed: int,
            subject: Subject, amplifier: AmplifierConfig, name: str) -> Recording:
    pcm, clipped = amplify(x_uv, sample_rate, amplifier)
    dur = len(pcm) / sample_rate
    segments: list[Segment] = []
    events: list[tuple[float, str]] = []
    episode_meta = []
    for t0, ep, label in episodes:
        for a, b, lab in ep.spans:
            a, b = t0 + a, min(t0 + b, dur)
            if b - a > 1e-6:
                segments.append(Segment(round(a, 6), round(b, 6), lab))
        events.extend((round(t0 + t, 6), lab) for t, lab in ep.events)
        episode_meta.append({"label": label, "start_s": round(t0, 6),
                             "end_s": round(t0 + len(ep.signal) / sample_rate, 6),
                             "background": ep.background})
    events.sort()
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "subject_id": subject.subject_id,
        "subject": asdict(subject),
        "events": events,
        "episodes": episode_meta,
        "amplifier": asdict(amplifier),
        "clipped_samples": clipped,
    }
    return Recording(pcm=pcm, sample_rate=int(sample_rate), uv_per_lsb=amplifier.uv_per_lsb,
                     segments=segments, name=name, meta=meta)


def simulate_clip(label: str, duration_s: float, sample_rate: int, seed: int, subject: Subject | None = None,
                  background: str = "auto", amplifier: AmplifierConfig | None = None) -> Recording:
    """One class episode over background (noise, hum, drift), through the amplifier.

    ``label``: a taxonomy label (or alias). ``duration_s`` in s, ``sample_rate`` in Hz
    (8000–48000). ``background``: "auto" (pathological classes sometimes sit on endplate
    noise, voluntary units or an insertional burst), "none", or one of :data:`OVERLAYS`.
    ``subject`` defaults to ``Subject.draw(seed)``. Deterministic from ``seed``.
    """
    label = canonical_label(label)
    _check_args(duration_s, sample_rate, seed)
    subject = subject or Subject.draw(seed)
    root = np.random.SeedSequence([int(seed), _SCENE_STREAM])
    rng_bg, rng_ep = (np.random.default_rng(s) for s in root.spawn(2))
    ep = render_episode(label, duration_s, sample_rate, subject, rng_ep, background)
    x = ep.signal + make_background(rng_bg, len(ep.signal), sample_rate, subject)
    return _finish(x, [(0.0, ep, label)], sample_rate, seed, subject, amplifier or AmplifierConfig(),
                   name=f"{subject.subject_id}_{label}_s{seed}")


#: Normal activity between pathological episodes in an unscripted recording, with weights.
_NORMAL_WEIGHTS = {"rest": 0.3, "endplate_noise": 0.12, "endplate_spike": 0.13, "voluntary_muap": 0.25, "insertional": 0.2}


def default_plan(rng: np.random.Generator, duration_s: float) -> list[tuple[str, float]]:
    """A plausible examination: normal activity with the subject's pathological patterns.

    Each subject has 0–2 pathological patterns (a patient's muscle shows a few, not all);
    episodes last 2–10 s (abnormal spontaneous activity persists > 3 s, CW StatPearls).
    """
    n_path = int(rng.choice([0, 1, 2], p=[0.2, 0.45, 0.35]))
    own = list(rng.choice(PATHOLOGICAL, size=n_path, replace=False)) if n_path else []
    normals = list(_NORMAL_WEIGHTS)
    pw = np.array([_NORMAL_WEIGHTS[k] for k in normals])
    plan: list[tuple[str, float]] = []
    t = 0.0
    while t < duration_s:
        if own and rng.random() < 0.5:
            label, d = str(rng.choice(own)), rng.uniform(3.0, 10.0)
        else:
            label = str(rng.choice(normals, p=pw / pw.sum()))
            d = rng.uniform(0.6, 2.5) if label == "insertional" else rng.uniform(2.0, 8.0)
        d = min(d, duration_s - t)
        plan.append((label, float(d)))
        t += d
    return plan


def simulate_recording(seed: int, duration_s: float, sample_rate: int,
                       plan: Sequence[tuple[str, float]] | None = None, subject: Subject | None = None,
                       background: str = "auto", amplifier: AmplifierConfig | None = None) -> Recording:
    """A continuous recording: background throughout plus a sequence of episodes.

    ``plan``: list of (label, duration_s) played back to back from t = 0; time after the plan
    is rest, a plan longer than ``duration_s`` is cut. Without a plan, :func:`default_plan`
    draws one from the seed. Pathological episodes are labelled over their background.
    """
    _check_args(duration_s, sample_rate, seed)
    subject = subject or Subject.draw(seed)
    root = np.random.SeedSequence([int(seed), _SCENE_STREAM, 1])
    rng_bg, rng_plan, ep_root = root.spawn(3)
    if plan is None:
        plan = default_plan(np.random.default_rng(rng_plan), float(duration_s))
    n = int(round(duration_s * sample_rate))
    x = make_background(np.random.default_rng(rng_bg), n, sample_rate, subject)
    episodes = []
    i0 = 0  # episode boundaries fall on samples, so adjacent segments never overlap
    for (label, d), ss in zip(plan, ep_root.spawn(len(plan))):
        label = canonical_label(label)
        if not float(d) > 0.0:
            raise ValueError(f"plan episode {label!r} has duration {d} s: must be > 0")
        m = min(int(round(float(d) * sample_rate)), n - i0)
        if m <= 0:
            break
        ep = render_episode(label, m / sample_rate, sample_rate, subject, np.random.default_rng(ss), background)
        x[i0:i0 + m] += ep.signal[:m]
        episodes.append((i0 / sample_rate, ep, label))
        i0 += m
    return _finish(x, episodes, sample_rate, seed, subject, amplifier or AmplifierConfig(),
                   name=f"{subject.subject_id}_rec_s{seed}")
