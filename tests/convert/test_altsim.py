"""convert.altsim: independence, face validity against the reference figures, determinism, the
data-directory format, and config validation. Measurements are written here, not taken from
the package."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convert.altsim import classes, firing
from convert.altsim.corpus import LABELS, CorpusConfig, draw_clip, write_corpus
from convert.altsim.recording_chain import ChainConfig, record
from convert.altsim.shapes import MuapSpec

from .import_check import imported_modules

PKG = Path(__file__).resolve().parents[2] / "convert" / "altsim"
FS = 44100
FORBIDDEN = ("convert.simulator", "convert.chain", "convert.augment", "convert.synth")
#: A chain that adds nothing but the band-pass and the int16 step.
QUIET = ChainConfig(noise_uv_rms=(0.0, 0.0), hum_probability=0.0)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ independence

def _imports(path: Path) -> list[str]:
    return imported_modules(path, "convert.altsim")


KIT_FORMAT = ("convert.taxonomy", "convert.recordings")


def test_package_imports_nothing_from_the_kits_simulator():
    files = sorted(PKG.glob("*.py"))
    assert len(files) >= 6
    stdlib = set(sys.stdlib_module_names)
    for path in files:
        for name in _imports(path):
            assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), f"{path.name} imports {name}"
            top = name.split(".")[0]
            assert name != "<dynamic import>", f"{path.name} imports dynamically"
            # only the standard library, numpy, scipy, this package itself, and the kit's label
            # names and WAV writer (the data-directory format, no generator logic)
            assert (top in stdlib or top in ("numpy", "scipy") or name.startswith("convert.altsim")
                    or any(name == k or name.startswith(k + ".") for k in KIT_FORMAT)), f"{path.name} imports {name}"


def test_every_label_has_a_drawing_function():
    from convert.taxonomy import LABELS as KIT_LABELS

    assert tuple(LABELS) == tuple(KIT_LABELS)
    assert set(classes.DRAW) == set(KIT_LABELS)


# ------------------------------------------------------------------ face validity

def _recorded_uv(clip: classes.Clip, chain: ChainConfig = QUIET, seed: int = 0) -> np.ndarray:
    pcm, _ = record(rng(seed), clip.signal_uv, chain)
    return pcm.astype(np.float64) * chain.uv_per_lsb


def _first_big_sign(w: np.ndarray, frac: float = 0.3) -> float:
    return float(np.sign(w[np.flatnonzero(np.abs(w) >= frac * np.abs(w).max())[0]]))


def _duration_ms(w: np.ndarray, fs: float, frac: float = 0.05) -> float:
    idx = np.flatnonzero(np.abs(w) >= frac * np.abs(w).max())
    return (idx[-1] - idx[0] + 1) * 1000.0 / fs


def test_fibrillation_amplitude_duration_polarity_and_regularity():
    p2ps = []
    for seed in range(12):
        clip = classes.fibrillation(rng(seed), 4.0, FS)
        x = _recorded_uv(clip, seed=seed)
        for src in clip.sources:
            w = src["waveform"]
            n = len(w)
            # peak-to-peak of the recorded signal (after int16 and the µV scale) at each discharge
            seg = [x[int(round(t * FS)):int(round(t * FS)) + n] for t in src["times_s"]]
            p2ps.append(np.median([s.max() - s.min() for s in seg if len(s) == n]))
            assert 1.0 * 0.9 <= _duration_ms(w, FS) <= 5.0 * 1.1
            assert _first_big_sign(w) > 0, "fibrillation recorded away from its origin starts positive"
            iv = np.diff(src["times_s"])
            if len(iv) >= 3:
                assert 0.5 * 0.95 <= 1 / iv[0] <= 15.0 * 1.05
                assert np.std(np.diff(iv)) / iv.mean() < 0.1, "fibrillations fire regularly"
    p2ps = np.asarray(p2ps)
    assert p2ps.size >= 12
    # reference 20–200 µV; the 10 Hz–10 kHz band takes a little off the fastest spikes
    assert p2ps.min() >= 20.0 * 0.8 and p2ps.max() <= 200.0 * 1.05
    assert p2ps.max() / p2ps.min() > 2.5, "amplitudes are drawn across the range"


def test_positive_sharp_wave_shape():
    for seed in range(10):
        clip = classes.positive_sharp_wave(rng(seed), 2.0, FS)
        for src in clip.sources:
            w = src["waveform"]
            i_pos, i_neg = int(np.argmax(w)), int(np.argmin(w))
            assert i_pos < i_neg, "positive phase first"
            assert w[i_pos] > 2 * -w[i_neg], "sharp high positive phase, low negative one"
            assert i_pos * 1000 / FS < 2.0, "sharp onset"
            assert 10.0 * 0.95 <= len(w) * 1000 / FS <= 30.0 * 1.05
            neg = w[i_pos:] < 0
            assert neg.mean() > 0.5, "the slow negative return takes most of the potential"


def test_crd_repeats_one_complex_at_a_constant_rate():
    for seed in range(8):
        clip = classes.complex_repetitive_discharge(rng(seed), 8.0, FS)
        (a, b, label), = clip.segments
        assert label == "complex_repetitive_discharge" and b - a >= 3.0 - 1e-9
        for src in clip.sources:
            t = src["times_s"]
            iv = np.diff(t)
            assert len(iv) >= 3
            assert iv.std() / iv.mean() < 0.005, "machine-like uniform rate"
            assert 5.0 * 0.99 <= 1 / iv.mean() <= 100.0 * 1.01
            n = len(src["waveform"])
            assert n < iv.min() * FS
            starts = [int(round(s * FS)) for s in t[:5]]
            first = clip.signal_uv[starts[0]:starts[0] + n]
            for s in starts[1:]:
                assert np.allclose(clip.signal_uv[s:s + n], first), "identical complex each discharge"
        p2p = np.ptp(clip.sources[0]["waveform"])
        assert 100.0 * 0.99 <= p2p <= 1000.0 * 1.01
        x = _recorded_uv(clip)
        quiet = x[: max(int(a * FS) - int(0.02 * FS), 0)]
        if quiet.size > FS // 10:
            assert np.abs(quiet).max() < 0.05 * p2p, "abrupt start: nothing before the episode"


def test_endplate_spikes_are_irregular_and_initial_negative():
    cvs = []
    for seed in range(8):
        clip = classes.endplate_spike(rng(seed), 8.0, FS)
        assert {s[2] for s in clip.segments} <= {"endplate_noise"}
        assert clip.events and all(label == "endplate_spike" for _, label in clip.events)
        for src in clip.sources:
            assert _first_big_sign(src["waveform"]) < 0
            iv = np.diff(src["times_s"])
            if len(iv) >= 30:
                cvs.append(iv.std() / iv.mean())
    assert len(cvs) >= 5
    assert min(cvs) > 0.4, f"end-plate spike intervals are irregular, got CVs {np.round(cvs, 2)}"


def test_voluntary_rates_and_interval_cv():
    cvs, rates = [], []
    for k, (pool, effort) in enumerate([("normal", "low"), ("normal", "moderate"), ("neurogenic", "high"),
                                        ("myopathic", "low")]):
        clip = classes.voluntary_muap(rng(k), 30.0, 8000, pool=pool, effort=effort)
        near = [s for s in clip.sources if s["near"]]
        assert len(near) >= 1 and len(clip.sources) > len(near), "recruited units plus distant background"
        for s in near:
            iv = np.diff(s["times_s"])
            cvs.append(iv.std() / iv.mean())
            rates.append(len(s["times_s"]) / 30.0)
    cvs, rates = np.asarray(cvs), np.asarray(rates)
    assert cvs.min() >= 0.08 and cvs.max() <= 0.35, np.round(cvs, 3)
    assert rates.min() >= 5.0 * 0.9 and rates.max() <= 30.0 * 1.05, np.round(rates, 1)


def test_voluntary_effort_recruits_more_units_and_denser_signal():
    low = classes.voluntary_muap(rng(3), 4.0, 8000, effort="low")
    high = classes.voluntary_muap(rng(3), 4.0, 8000, effort="high")
    assert high.info["near_units"] > low.info["near_units"]
    assert np.sqrt(np.mean(high.signal_uv**2)) > 2 * np.sqrt(np.mean(low.signal_uv**2))


def test_myokymic_and_neuromyotonic_and_myotonic_rates():
    for seed in range(5):
        mk = classes.myokymic_discharge(rng(seed), 8.0, FS)
        for s in mk.sources:
            onsets = np.asarray(s["burst_onsets_s"])
            assert 2.0 * 0.8 <= 1 / np.diff(onsets).mean() <= 10.0 * 1.2
            t = s["times_s"]
            bounds = np.append(onsets, np.inf)
            intra = np.concatenate([np.diff(t[(t >= a) & (t < b)]) for a, b in zip(bounds[:-1], bounds[1:])])
            assert intra.size and 1 / intra.max() >= 30 * 0.8 and 1 / intra.min() <= 60 * 1.25
            assert np.all(np.diff(t) > 0)
        nm = classes.neuromyotonic_discharge(rng(seed), 8.0, FS)
        for (a, b, _), s in zip(nm.segments, nm.sources):
            assert 0.5 <= b - a <= 2.0
            assert np.median(1 / np.diff(s["times_s"])) > 150 * 0.97
            g = s["gains"]
            assert g[-1] < 0.65 * g[0] and np.all(np.diff(g) <= 0), "decrementing amplitude"
        mt = classes.myotonic_discharge(rng(seed), 8.0, FS)
        for s in mt.sources:
            inst = 1 / np.diff(s["times_s"])
            assert np.percentile(inst, 5) >= 20 * 0.9 and np.percentile(inst, 95) <= 150 * 1.1
            assert inst.max() - inst.min() > 10, "the rate waxes and wanes"


def test_fasciculations_are_sparse_irregular_and_mua_sized():
    for seed in range(8):
        clip = classes.fasciculation(rng(seed), 8.0, FS)
        assert 1 <= len(clip.events) <= 40
        for s in clip.sources:
            assert 123 * 0.99 <= np.ptp(s["waveform"]) <= 3599 * 1.01
            assert 2.8 * 0.9 <= _duration_ms(s["waveform"], FS) <= 37.4 * 1.1


def test_insertional_burst_follows_needle_movement():
    clip = classes.insertional(rng(2), 8.0, FS)
    (a, b, label), = clip.segments
    assert label == "insertional" and clip.info["movements_s"][0] == pytest.approx(a, abs=1e-3)
    x = clip.signal_uv
    before = x[: int(a * FS)]
    assert before.size == 0 or np.abs(before).max() == 0
    assert np.abs(x[int(a * FS):int((a + 0.3) * FS)]).max() > 50


# ------------------------------------------------------------------ chain and corpus

SMALL = CorpusConfig(clips_per_class=1, voluntary_factor=1, clip_s=2.0, seed=5,
                     chain=ChainConfig(sample_rate_hz=16000))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    write_corpus(tmp_path / "a", SMALL)
    write_corpus(tmp_path / "b", SMALL)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == 2 * 12 + 1
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    other = CorpusConfig(clips_per_class=1, voluntary_factor=1, clip_s=2.0, seed=6, labels=("fibrillation",),
                         chain=ChainConfig(sample_rate_hz=16000))
    write_corpus(tmp_path / "c", other)
    name = "fibrillation_000.wav"
    assert (tmp_path / "c" / name).read_bytes() != (tmp_path / "a" / name).read_bytes()


def test_written_directory_loads_with_labels_and_scale(tmp_path):
    from convert.datadir import load_datadir
    from convert.windowing import WindowConfig, label_windows

    cfg = CorpusConfig(clips_per_class=1, voluntary_factor=2, clip_s=3.0, seed=2,
                       chain=ChainConfig(sample_rate_hz=16000, uv_per_lsb=0.7))
    write_corpus(tmp_path, cfg)
    recs = load_datadir(tmp_path)
    assert len(recs) == 11 + 2
    wcfg = WindowConfig()
    for rec in recs:
        label = rec.name.rsplit("_", 1)[0]
        assert rec.uv_per_lsb == pytest.approx(0.7)
        assert rec.meta["uv_per_lsb_source"] == "wav-comment"
        assert rec.sample_rate == 16000 and rec.duration_s == pytest.approx(3.0)
        seg_labels = {s.label for s in rec.segments}
        ev_labels = {lab for _, lab in rec.meta["events"]}
        assert label in seg_labels | ev_labels
        assert seg_labels | ev_labels <= {label, "endplate_noise"}
        if label in ("fasciculation", "endplate_spike", "fibrillation", "positive_sharp_wave"):
            assert ev_labels == {label}
        # the kit's own window labelling finds the clip's class in some window
        start = np.arange(0.0, rec.duration_s - 1.0 + 1e-9, 0.25)
        y, _ = label_windows(rec, start, start + 1.0, wcfg)
        assert LABELS.index(label) in set(y.tolist()) or label == "rest" and set(y.tolist()) == {0}
    manifest = (tmp_path / "manifest.json").read_text()
    assert '"voluntary_muap_001"' in manifest


def test_voluntary_clips_cycle_through_pools_and_efforts():
    cfg = CorpusConfig(clips_per_class=3, clip_s=1.0, chain=ChainConfig(sample_rate_hz=8000))
    assert cfg.count("voluntary_muap") == 9 and cfg.count("rest") == 3
    seen = set()
    for i in range(9):
        info = draw_clip("voluntary_muap", i, cfg)[0].info
        seen.add((info["pool"], info["effort"]))
    assert seen == {(p, e) for p in classes.POOLS for e in classes.EFFORTS}


@settings(max_examples=25, deadline=None)
@given(uv=st.floats(0.1, 5.0), amp=st.floats(50.0, 2000.0))
def test_chain_scale_round_trip(uv, amp):
    """A 1 kHz sine (pass band) comes back at its amplitude after int16 and the µV scale."""
    cfg = ChainConfig(sample_rate_hz=16000, uv_per_lsb=uv, noise_uv_rms=(0.0, 0.0), hum_probability=0.0)
    t = np.arange(8000) / 16000
    pcm, info = record(rng(0), amp * np.sin(2 * np.pi * 1000 * t), cfg)
    y = pcm[4000:].astype(np.float64) * uv
    assert info["clipped_samples"] == 0
    assert (y.max() - y.min()) / 2 == pytest.approx(amp, rel=0.02, abs=uv)


def test_chain_noise_rms_is_drawn_in_range():
    cfg = ChainConfig(sample_rate_hz=16000, hum_probability=0.0)
    for seed in range(5):
        pcm, info = record(rng(seed), np.zeros(16000), cfg)
        rms = (pcm.astype(np.float64) * cfg.uv_per_lsb).std()
        assert 3.0 <= info["noise_uv_rms"] <= 10.0
        assert rms == pytest.approx(info["noise_uv_rms"], rel=0.05)


@settings(max_examples=40, deadline=None)
@given(rate=st.floats(0.5, 15.0), dur=st.floats(1.0, 10.0), seed=st.integers(0, 2**31))
def test_regular_train_property(rate, dur, seed):
    t = firing.regular(rng(seed), rate, 0.0, dur, cv=0.01)
    assert np.all(np.diff(t) > 0) and (t.size == 0 or (t[0] >= 0 and t[-1] < dur))
    assert abs(len(t) - rate * dur) <= 1 + 0.05 * rate * dur


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize("make, text", [
    (lambda: ChainConfig(uv_per_lsb=0.0), "uv_per_lsb = 0.0"),
    (lambda: ChainConfig(sample_rate_hz=1000), "sample_rate_hz = 1000"),
    (lambda: ChainConfig(noise_uv_rms=(10.0, 3.0)), "noise_uv_rms = (10.0, 3.0)"),
    (lambda: ChainConfig(hum_probability=1.5), "hum_probability = 1.5"),
    (lambda: CorpusConfig(clips_per_class=0), "clips_per_class = 0"),
    (lambda: CorpusConfig(labels=("fibs",)), "'fibs'"),
    (lambda: MuapSpec(n_fibres=0), "n_fibres = 0"),
    (lambda: classes.voluntary_muap(rng(0), 1.0, 8000, pool="healthy"), "'healthy'"),
])
def test_bad_values_raise_naming_the_value(make, text):
    with pytest.raises(ValueError) as exc:
        make()
    assert text in str(exc.value)
    assert "allowed" in str(exc.value) or "must be" in str(exc.value)


@settings(max_examples=30, deadline=None)
@given(x=st.one_of(st.floats(-1e6, 0.49), st.floats(100.01, 1e6), st.just(float("nan"))))
def test_low_cut_out_of_range_is_refused(x):
    with pytest.raises(ValueError, match=r"low_cut_hz = .*(allowed range|finite number)"):
        ChainConfig(low_cut_hz=x)
