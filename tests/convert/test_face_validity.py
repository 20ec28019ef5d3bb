"""Face validity: measure simulated signals with a detector that knows nothing of the generator.

The detector sees only the amplifier output in µV (``pcm * uv_per_lsb``): threshold crossing
and peak picking, spike-triggered averaging, interval statistics, envelopes. The ranges
checked are the clinical ones from /work/shared/reference/clinical-waveforms.md §2 (CW).

Some checks use a quiet subject (needle noise 3 µV, little hum): they measure the pattern's
fine structure (a waning myotonic tail, the slow phase of a positive sharp wave), which the
clinical figures describe as seen on a clean trace.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import signal

from convert.simulator import Subject, simulate_clip

FS = 44100
SEEDS = range(6)


# ------------------------------- the detector ------------------------------------------

def trace_uv(rec) -> np.ndarray:
    return rec.pcm.astype(np.float64) * rec.uv_per_lsb


def robust_sigma(x: np.ndarray) -> float:
    """Noise standard deviation from the median absolute deviation (ignores sparse spikes)."""
    return float(np.median(np.abs(x - np.median(x))) / 0.6745)


def noise_floor(x: np.ndarray, fs: float, window_ms: float = 2.0) -> float:
    """Noise RMS from the quietest short windows (for traces filled with discharges, where
    even the median absolute deviation is dominated by potentials)."""
    w = max(int(window_ms * fs / 1000), 8)
    stds = np.std(x[: len(x) // w * w].reshape(-1, w), axis=1)
    return float(np.percentile(stds, 5) / 0.85)  # 5th percentile of the std of w samples ≈ 0.85 σ


def dominant_polarity(x: np.ndarray) -> float:
    """+1 or -1: the sign of the larger extreme deflections."""
    return 1.0 if np.percentile(x, 99.95) >= -np.percentile(x, 0.05) else -1.0


def spikes(x: np.ndarray, fs: float, height: float, min_gap_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Peak picking on the dominant polarity. Returns (sample indices, peak heights µV)."""
    pol = dominant_polarity(x)
    idx, props = signal.find_peaks(pol * x, height=height, distance=max(1, int(min_gap_ms * fs / 1000)))
    return idx, props["peak_heights"]


def largest_unit(x: np.ndarray, fs: float, min_gap_ms: float, snr: float = 5.0) -> np.ndarray:
    """Peaks of the largest repeating potential: above ``snr`` × noise, then within 70 % of
    the 90th-percentile peak height (separates the nearest fibre from further ones)."""
    idx, h = spikes(x, fs, snr * robust_sigma(x), min_gap_ms)
    if len(idx) == 0:
        return idx
    return idx[h > 0.7 * np.percentile(h, 90)]


def matched_unit(x: np.ndarray, fs: float, min_gap_ms: float, half_ms: float) -> np.ndarray:
    """Firings of the largest unit by template matching: average the largest peaks into a
    template (± ``half_ms``), then keep positions where the least-squares amplitude of that
    template reaches 70 % of the unit's typical amplitude and the trace correlates with it
    over the template's support (r > 0.6), i.e. same size and same shape."""
    seed_idx = largest_unit(x, fs, min_gap_ms)
    half = int(half_ms * fs / 1000)
    tmpl = triggered_average(x, seed_idx, half, half)
    tmpl = tmpl - tmpl.mean()
    amp = signal.fftconvolve(x, tmpl[::-1], mode="same") / np.dot(tmpl, tmpl)
    typical = np.median(amp[seed_idx])
    idx, _ = signal.find_peaks(amp, height=0.7 * typical, distance=max(1, int(min_gap_ms * fs / 1000)))
    idx = idx[(idx >= half) & (idx + half < len(x))]
    sup = np.flatnonzero(np.abs(tmpl) > 0.1 * np.abs(tmpl).max())
    a, b = sup[0], sup[-1] + 1
    r = np.array([np.corrcoef(x[i - half + a:i - half + b], tmpl[a:b])[0, 1] for i in idx])
    return idx[r > 0.6]


def triggered_average(x: np.ndarray, idx: np.ndarray, pre: int, post: int) -> np.ndarray:
    idx = idx[(idx >= pre) & (idx + post < len(x))]
    return np.mean([x[i - pre:i + post] for i in idx], axis=0)


def duration_ms(avg: np.ndarray, fs: float, frac: float = 0.1, settle_ms: float = 0.5) -> float:
    """Onset to end of the potential around its largest peak: walk outwards until the trace
    stays within ``frac`` × peak-to-peak of the baseline for ``settle_ms``."""
    base = np.median(np.concatenate([avg[:10], avg[-10:]]))
    out = np.abs(avg - base) > frac * (avg.max() - avg.min())
    settle = max(1, int(settle_ms * fs / 1000))
    pk = int(np.argmax(np.abs(avg - base)))
    a = pk
    while a > 0 and out[max(a - settle, 0):a].any():
        a -= 1
    b = pk
    while b < len(avg) - 1 and out[b + 1:b + 1 + settle].any():
        b += 1
    return (b - a) / fs * 1000.0


def interval_cv(idx: np.ndarray) -> float:
    d = np.diff(idx).astype(float)
    return float(np.std(d) / np.mean(d))


def quiet(seed: int) -> Subject:
    return dataclasses.replace(Subject.draw(seed), noise_uv_rms=3.0, hum_uv=0.5)


def clip(label: str, seed: int, seconds: float = 10.0, subject: Subject | None = None, rate: int = FS):
    rec = simulate_clip(label, seconds, rate, seed=seed, subject=subject, background="none")
    return trace_uv(rec)


# ------------------------------- measurements ------------------------------------------

def measure_fibrillation(seed: int) -> dict:
    x = clip("fibrillation", seed)
    idx = matched_unit(x, FS, min_gap_ms=20, half_ms=3)
    avg = triggered_average(x, idx, int(0.01 * FS), int(0.01 * FS))
    return {"n": len(idx), "rate_hz": FS / np.median(np.diff(idx)), "cv": interval_cv(idx),
            "duration_ms": duration_ms(avg, FS)}


def measure_psw(seed: int) -> dict:
    x = clip("positive_sharp_wave", seed, subject=quiet(seed))
    idx = matched_unit(x, FS, min_gap_ms=40, half_ms=20)
    avg = triggered_average(x, idx, int(0.01 * FS), int(0.045 * FS))
    pk = int(np.argmax(np.abs(avg)))
    return {"n": len(idx), "rate_hz": FS / np.median(np.diff(idx)), "cv": interval_cv(idx),
            "duration_ms": duration_ms(avg, FS, settle_ms=3.0), "initial_positive": avg[pk] > 0,
            "negative_after": avg[pk:].min() < -0.1 * avg[pk]}


def measure_fasciculation(seed: int) -> dict:
    x = clip("fasciculation", seed, seconds=30.0, rate=16000)
    idx, _ = spikes(x, 16000, 100.0, min_gap_ms=30)  # 100 µV exclusion (Bashford 2019, CW §1.3)
    pps = [np.ptp(x[max(i - 160, 0):i + 160]) for i in idx]
    return {"n": len(idx), "cv": interval_cv(idx), "pp_uv": np.median(pps)}


def measure_crd(seed: int) -> dict:
    x = clip("complex_repetitive_discharge", seed)
    env = np.abs(x) - np.mean(np.abs(x))
    ac = signal.fftconvolve(env, env[::-1], mode="full")[len(env) - 1:]
    lo = int(0.005 * FS)
    # The first autocorrelation peak that reaches 80 % of the largest (a periodic train has
    # equal peaks at every multiple of its period).
    pk, _ = signal.find_peaks(ac[lo:int(0.25 * FS)])
    period = lo + int(pk[np.argmax(ac[lo + pk] >= 0.8 * ac[lo + pk].max())])
    gap_ms = 0.8 * period / FS * 1000
    idx, _ = spikes(x, FS, 0.5 * np.max(np.abs(x)), min_gap_ms=gap_ms)
    half = min(period // 2, int(0.04 * FS))
    # Align every complex on the best match to the average complex (a complex may have two
    # near-equal peaks; picking the larger one would flip between them).
    for _ in range(2):
        avg = triggered_average(x, idx, half, half)
        score = signal.fftconvolve(x, avg[::-1], mode="same")
        idx, _ = signal.find_peaks(score, height=0.5 * np.dot(avg, avg), distance=int(gap_ms * FS / 1000))
    avg = triggered_average(x, idx, half, half)
    support = np.flatnonzero(np.abs(avg) > 0.05 * np.ptp(avg))
    a, b = support[0], support[-1] + 1
    segs = [x[i - half + a:i - half + b] for i in idx if i - half >= 0 and i + half < len(x)]
    corr = [np.corrcoef(s, avg[a:b])[0, 1] for s in segs]
    return {"n": len(idx), "rate_hz": FS / np.median(np.diff(idx)), "cv": interval_cv(idx),
            "frac_corr_gt_0.95": float(np.mean(np.array(corr) > 0.95)), "median_corr": float(np.median(corr))}


def measure_myotonic(seed: int) -> dict:
    x = clip("myotonic_discharge", seed, subject=quiet(seed))
    idx, h = spikes(x, FS, 6 * noise_floor(x, FS), min_gap_ms=5)  # ≤ 200 Hz
    d = np.diff(idx) / FS
    rates = 1.0 / d
    # Split into discharges at pauses, then look at each one's rate and amplitude course.
    cuts = np.flatnonzero(d > 0.08)
    waxwane, in_range = [], []
    for part in np.split(np.arange(len(idx)), cuts + 1):
        if len(part) < 20 or idx[part[0]] < 0.1 * FS or idx[part[-1]] > len(x) - 0.1 * FS:
            continue  # too short to judge, or cut by the start/end of the clip
        r = signal.medfilt(rates[part[:-1]], 5)[2:-2]
        head, top, tail = np.median(r[:3]), np.max(r), np.median(r[-3:])
        amp = signal.medfilt(h[part], 5)[2:-2]
        # Waxes then wanes: the rate peaks well above where it starts and where it ends, and
        # the amplitude changes along with it.
        waxwane.append(top > 1.3 * head and top > 1.3 * tail and amp.max() > 1.5 * min(amp[:3].mean(), amp[-3:].mean()))
        in_range.append(np.mean((r >= 20) & (r <= 150)))
    return {"discharges": len(waxwane), "wax_wane_frac": float(np.mean(waxwane)) if waxwane else 0.0,
            "in_range_frac": float(np.mean(in_range)) if in_range else 0.0,
            "rate_p5": float(np.percentile(rates[rates > 10], 5)), "rate_p95": float(np.percentile(rates, 95))}


def measure_myokymic(seed: int) -> dict:
    x = clip("myokymic_discharge", seed)
    idx = largest_unit(x, FS, min_gap_ms=10)
    d = np.diff(idx) / FS
    gap = 0.06  # > the 33 ms interval of 30 Hz firing, < a burst period at 10 Hz
    starts = idx[np.concatenate([[0], np.flatnonzero(d > gap) + 1])]
    intra = d[d <= gap]
    return {"bursts": len(starts), "burst_rate_hz": FS / np.median(np.diff(starts)),
            "intra_rate_hz": 1.0 / np.median(intra) if len(intra) else 0.0}


def measure_neuromyotonic(seed: int) -> dict:
    x = clip("neuromyotonic_discharge", seed, seconds=6.0)
    env = signal.sosfiltfilt(signal.butter(2, 20, fs=FS, output="sos"), np.abs(x))
    active = env > 5 * noise_floor(x, FS)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(int), [0]])))
    a, b = max(zip(edges[::2], edges[1::2]), key=lambda r: r[1] - r[0])
    # Firing rate from the autocorrelation of the first 300 ms of the longest burst: the
    # first lag (1.5–12 ms) where it peaks.
    seg = x[a:min(b, a + int(0.3 * FS))]
    seg = seg - seg.mean()
    ac = signal.fftconvolve(seg, seg[::-1], mode="full")[len(seg) - 1:]
    lo, hi = int(0.0015 * FS), int(0.012 * FS)
    pk, _ = signal.find_peaks(ac[lo:hi])
    lag = lo + pk[np.argmax(ac[lo + pk] >= 0.8 * ac[lo + pk].max())]
    n = b - a
    rms = lambda s: float(np.sqrt(np.mean(s ** 2)))  # noqa: E731
    return {"rate_hz": FS / lag, "burst_s": n / FS,
            "decrement": rms(x[b - n // 5:b]) / rms(x[a:a + n // 5])}


def measure_endplate_spikes(seed: int) -> dict:
    x = clip("endplate_spike", seed)
    idx, _ = spikes(x, FS, 6 * robust_sigma(x), min_gap_ms=3)
    # First deflection of each spike on a 3 kHz low-passed copy (less noise before onset).
    xs = signal.sosfiltfilt(signal.butter(2, 3000, fs=FS, output="sos"), x)
    w = int(0.002 * FS)
    first_neg = []
    for i in idx[(idx > w) & (idx < len(x) - w)]:
        seg = xs[i - w:i + w] - np.median(xs[i - w:i + w])
        j = np.flatnonzero(np.abs(seg) > 0.4 * np.max(np.abs(seg)))[0]
        first_neg.append(seg[j] < 0)
    return {"n": len(idx), "initial_negative_frac": float(np.mean(first_neg)), "cv": interval_cv(idx)}


def measure_insertional(seed: int) -> dict:
    x = clip("insertional", seed)
    env = np.sqrt(signal.sosfiltfilt(signal.butter(2, 50, fs=FS, output="sos"), x ** 2).clip(0))
    active = env > 4 * noise_floor(x, FS)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(int), [0]])))
    runs = [(a, b) for a, b in zip(edges[::2], edges[1::2])]
    merged = []
    for a, b in runs:  # merge runs less than 50 ms apart into one burst
        if merged and a - merged[-1][1] < 0.05 * FS:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return {"bursts": len(merged), "max_burst_ms": max((b - a) / FS * 1000 for a, b in merged) if merged else 0.0}


def measure_voluntary(seed: int) -> dict:
    # Normal muscle, concentric needle: the 0.3–3 mV range is that of normal units (CW §2);
    # since 1.4.0 a subject may be monopolar (2.05× amplitude) or neurogenic/myopathic.
    x = clip("voluntary_muap", seed, subject=Subject.draw(seed, needle="concentric", muscle="normal"))
    idx, _ = spikes(x, FS, 250.0, min_gap_ms=5)
    w = int(0.005 * FS)
    pps = np.array([np.ptp(x[i - w:i + w]) for i in idx if w <= i < len(x) - w])
    return {"n": len(pps), "pp_p10_uv": float(np.percentile(pps, 10)), "pp_p90_uv": float(np.percentile(pps, 90)),
            "frac_in_range": float(np.mean((pps >= 300) & (pps <= 3000)))}


def measure_rest(seed: int) -> dict:
    return {"sigma_uv": robust_sigma(clip("rest", seed, seconds=2.0))}


# ------------------------------- the tests ----------------------------------------------

def test_fibrillation_brief_regular_0p5_to_15_hz():
    for seed in SEEDS:
        m = measure_fibrillation(seed)
        assert m["n"] >= 8, m
        assert 1.0 <= m["duration_ms"] <= 5.0, m  # CW: 1–5 ms
        assert m["cv"] < 0.1, m  # regular
        assert 0.5 <= m["rate_hz"] <= 15.0, m  # CW: 0.5–15 Hz


def test_positive_sharp_wave_10_to_30_ms_positive_then_negative():
    for seed in SEEDS:
        m = measure_psw(seed)
        assert 10.0 <= m["duration_ms"] <= 30.0, m  # CW: 10–30 ms
        assert m["initial_positive"] and m["negative_after"], m
        assert m["cv"] < 0.1 and 0.5 <= m["rate_hz"] <= 15.0, m  # "as fibrillations"


def test_fasciculations_irregular_and_sparse():
    cvs = []
    for seed in SEEDS:
        m = measure_fasciculation(seed)
        assert 3 <= m["n"] <= 120, m  # several per 30 s episode, far below voluntary firing
        cvs.append(m["cv"])
    assert np.median(cvs) > 0.5, cvs  # irregular (a regular train has CV < 0.1)


def test_crd_identical_complexes_at_constant_rate():
    for seed in SEEDS:
        m = measure_crd(seed)
        assert m["median_corr"] > 0.95 and m["frac_corr_gt_0.95"] >= 0.9, m
        assert m["cv"] < 0.02, m  # constant rate
        assert 5.0 <= m["rate_hz"] <= 100.0, m


def test_myotonic_rate_waxes_and_wanes_within_20_to_150_hz():
    for seed in SEEDS:
        m = measure_myotonic(seed)
        assert m["discharges"] >= 2, m
        assert m["wax_wane_frac"] >= 0.75, m
        assert m["in_range_frac"] >= 0.95, m


def test_myokymic_bursts_1_to_10_hz_with_30_to_60_hz_inside():
    for seed in SEEDS:
        m = measure_myokymic(seed)
        assert 1.0 <= m["burst_rate_hz"] <= 10.0, m
        assert 30.0 <= m["intra_rate_hz"] <= 60.0, m


def test_neuromyotonic_above_150_hz_decrementing():
    for seed in SEEDS:
        m = measure_neuromyotonic(seed)
        assert m["rate_hz"] > 150.0, m
        assert 0.4 <= m["burst_s"] <= 2.1, m  # CW: 0.5–2 s (a burst may be cut by the clip)
        assert m["decrement"] < 0.8, m


def test_endplate_spikes_initially_negative_and_irregular():
    for seed in SEEDS:
        m = measure_endplate_spikes(seed)
        assert m["initial_negative_frac"] >= 0.8, m
        assert m["cv"] > 0.4, m


def test_insertional_bursts_at_most_500_ms():
    for seed in SEEDS:
        m = measure_insertional(seed)
        assert m["bursts"] >= 1 and m["max_burst_ms"] <= 500.0, m


def test_voluntary_motor_units_0p3_to_3_mv():
    for seed in SEEDS:
        m = measure_voluntary(seed)
        assert m["frac_in_range"] >= 0.9, m


def test_rest_noise_3_to_10_uv_rms():
    for seed in SEEDS:
        m = measure_rest(seed)
        assert 2.5 <= m["sigma_uv"] <= 11.0, m


if __name__ == "__main__":  # print the measured figures (for the report)
    for name, fn in list(globals().items()):
        if name.startswith("measure_"):
            for seed in SEEDS:
                print(name[8:], seed, {k: round(float(v), 3) for k, v in fn(seed).items()})


# ------------------------------- voluntary activity (generator 1.4.0) ---------------------
# Motor-unit pools, needles and muscle states (/work/shared/reference/real-emg.md §2, "RE").
# The renderers are driven directly (scenes.render_voluntary) only to choose the variant; the
# measurements below see the µV trace or the template and nothing else.

from convert.simulator import motor_units as mu  # noqa: E402
from convert.simulator import scenes  # noqa: E402


def muap_duration_ms(v: np.ndarray, fs: float, frac: float = 0.03) -> float:
    """Onset to end by an amplitude criterion: first to last sample beyond ``frac`` ×
    peak-to-peak (3 % ≈ 20 µV for a 660 µV unit, the usual clinical amplitude criterion)."""
    idx = np.flatnonzero(np.abs(v - np.median(v[:5])) > frac * np.ptp(v))
    return (idx[-1] - idx[0]) / fs * 1000.0


def test_voluntary_single_unit_isi_cv_0p10_to_0p35():
    cvs = []
    for seed in SEEDS:
        s = Subject.draw(seed, needle="concentric", muscle="normal")
        x = scenes.render_voluntary("threshold", 10.0, FS, s, seed).signal
        idx = matched_unit(x + np.random.default_rng(seed).normal(0, 5, len(x)), FS, min_gap_ms=40, half_ms=4)
        d = np.diff(idx) / FS
        d = d[d < 0.3]  # a missed firing would double an interval
        cvs.append(float(np.std(d) / np.mean(d)))
        assert 6.0 <= 1 / np.median(d) <= 10.5, (seed, 1 / np.median(d))
    assert all(0.08 <= c <= 0.35 for c in cvs), cvs  # RE §2: 10–30 %, ≤ 35.8 % near recruitment
    assert np.median(cvs) >= 0.10, cvs


def test_voluntary_active_units_grow_with_effort():
    """Distinct near units (amplitude classes of peaks ≥ 150 µV) at low vs high effort."""
    for seed in SEEDS[:4]:
        s = Subject.draw(seed, needle="concentric", muscle="normal")
        counts = []
        for level in ((0.008, 0.015), (0.3, 0.5)):
            c = scenes._Canvas(int(4 * FS), FS)
            scenes._voluntary_ramp(c, np.random.default_rng(seed), s, level=level)
            counts.append(_n_units(c.buf, FS))
        assert counts[1] > counts[0], (seed, counts)


def _n_units(x: np.ndarray, fs: float) -> int:
    """Number of amplitude classes (10 % bins of peak-to-peak) holding ≥ 1 firing per second."""
    idx, _ = signal.find_peaks(np.abs(x), height=150.0, distance=int(0.003 * fs))
    w = int(0.004 * fs)
    pps = np.array([np.ptp(x[max(i - w, 0):i + w]) for i in idx])
    if len(pps) == 0:
        return 0
    bins = np.round(np.log(pps) / np.log(1.15)).astype(int)
    vals, n = np.unique(bins, return_counts=True)
    return int(np.sum(n >= len(x) / fs))


def test_monopolar_vs_concentric_same_unit():
    amp, dur = [], []
    for seed in range(20):
        unit = mu.Unit(scatter_ms=9.35 / 5, near_um=np.random.default_rng(seed).uniform(25, 120), shape_seed=seed)
        c, m = mu.muap(unit, "concentric", FS), mu.muap(unit, "monopolar", FS) * mu.needle_gain("monopolar")
        amp.append(np.ptp(m) / np.ptp(c))
        dur.append(muap_duration_ms(m, FS) / muap_duration_ms(c, FS))
    assert 1.6 <= np.median(amp) <= 2.5, amp  # RE §2: 2.05×
    assert 1.4 <= np.median(dur) <= 2.4, dur  # RE §2: 1.86×


def _baseline(v: np.ndarray) -> np.ndarray:
    return v - np.median(np.concatenate([v[:5], v[-5:]]))


def muap_phases(v: np.ndarray, dead: float = 0.02) -> int:
    """Baseline crossings + 1, a crossing counted only from beyond −dead to beyond +dead ×
    peak-to-peak (or back): a 2 % dead band, so noise-level wobble is not a phase."""
    v = _baseline(v)
    s = np.sign(v) * (np.abs(v) > dead * np.ptp(v))
    s = s[s != 0]
    return int(np.sum(s[1:] != s[:-1])) + 1


def muap_turns(v: np.ndarray, frac: float = 0.05) -> int:
    """Turns: changes of direction after a swing of ≥ ``frac`` × peak-to-peak (5 %)."""
    v = _baseline(v)
    th, last, direction, n = frac * np.ptp(v), v[0], 0, 0
    for x in v[1:]:
        if direction >= 0 and x > last or direction < 0 and x < last:
            last = x
        elif abs(x - last) >= th:
            n += direction != 0
            direction, last = (1 if x > last else -1), x
        if direction == 0 and abs(x - v[0]) >= th:
            direction = 1 if x > v[0] else -1
    return n


def muap_rise_ms(v: np.ndarray, fs: float) -> float:
    """Rise time of the main spike: from the turning point preceding the largest peak (the
    last sample from which the trace moves monotonically towards it) to the peak."""
    pk = int(np.argmax(np.abs(v)))
    sg, j = np.sign(v[pk]), pk
    while j > 0 and sg * (v[j] - v[j - 1]) > 0:
        j -= 1
    return (pk - j) / fs * 1000.0


def muap_figures(state: str, seeds=range(12)) -> dict:
    """Phases, turns, duration (3 % criterion), rise and amplitude of the rendered concentric
    templates of every pool unit of ``seeds`` subjects (template × the pool's µV)."""
    ph, tu, du, ri, am = [], [], [], [], []
    for seed in seeds:
        s = Subject.draw(seed, needle="concentric", muscle=state)
        for i in range(len(s.mu_amplitude_uv)):
            v = mu.muap(mu.unit_of(s, i), "concentric", FS)
            ph.append(muap_phases(v))
            tu.append(muap_turns(v))
            du.append(muap_duration_ms(v, FS))
            ri.append(muap_rise_ms(v, FS))
            am.append(s.mu_amplitude_uv[i] * np.ptp(v))
    ph = np.array(ph)
    return {"phases_median": float(np.median(ph)), "phases_mean": float(ph.mean()),
            "polyphasic": float(np.mean(ph > 4)), "turns_median": float(np.median(tu)),
            "duration_ms": float(np.median(du)), "rise_ms": float(np.median(ri)), "amp_uv": float(np.median(am))}


@pytest.fixture(scope="module")
def muap_stats():
    return {state: muap_figures(state) for state in ("normal", "myopathic", "neurogenic")}


def test_normal_muap_phases_duration_rise(muap_stats):
    m = muap_stats["normal"]
    assert 3.0 <= m["phases_median"] <= 4.0, m  # RE §2: TA 3.47 ± 0.36 phases
    assert 0.05 <= m["polyphasic"] <= 0.40, m  # RE §2: 5–40 % polyphasic (> 4 phases)
    assert 2.0 <= m["turns_median"] <= 5.0, m  # RE §2: 3.35 ± 0.52 turns
    assert 7.0 <= m["duration_ms"] <= 12.0, m  # RE §2: 9.35 ± 0.93 ms (ULN 11.2)
    assert 0.1 <= m["rise_ms"] <= 0.5, m  # sharp main spike of the near fibres


def test_myopathic_small_short_neurogenic_large_long(muap_stats):
    n, my, ng = muap_stats["normal"], muap_stats["myopathic"], muap_stats["neurogenic"]
    assert my["duration_ms"] < n["duration_ms"] < ng["duration_ms"], muap_stats
    assert my["amp_uv"] < n["amp_uv"] < ng["amp_uv"], muap_stats
    assert my["polyphasic"] > n["polyphasic"] and ng["polyphasic"] > n["polyphasic"], muap_stats


def test_crd_machine_regular_below_1_percent():
    for seed in SEEDS:
        m = measure_crd(seed)
        assert m["median_corr"] > 0.95 and m["cv"] < 0.01, m
