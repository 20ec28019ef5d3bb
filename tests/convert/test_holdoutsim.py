"""convert.holdoutsim: independence, face validity measured here, determinism, the written format.

The measurements below are written in this test (not taken from the generator's own helpers
beyond its drawn discharge times), so they check what the generator puts in the signal.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convert.holdoutsim as hs
from convert.datadir import load_datadir
from convert.holdoutsim import shapes
from convert.holdoutsim.acquisition import ChainConfig
from convert.holdoutsim.corpus import CorpusConfig, clip_counts, draw_clip, write_corpus
from convert.holdoutsim.firing import renewal_train
from convert.taxonomy import LABELS

from .import_check import imported_modules

PKG = Path(hs.__file__).parent
FS = 20000
ALLOWED_KIT = {"convert.taxonomy", "convert.recordings"}
FORBIDDEN = ("convert.simulator", "convert.altsim", "convert.chain", "convert.augment", "convert.synth")
STDLIB = {"__future__", "dataclasses", "json", "pathlib", "math", "typing", "functools", "itertools",
          "collections", "os"}


def _imports(path: Path) -> list[str]:
    return imported_modules(path, "convert.holdoutsim")


def test_package_imports_only_stdlib_numpy_scipy_itself_and_two_kit_modules():
    files = sorted(PKG.glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "shapes.py", "firing.py", "classes.py", "acquisition.py",
                                       "corpus.py"}
    seen = set()
    for f in files:
        for name in _imports(f):
            seen.add(name)
            assert not name.startswith(FORBIDDEN), f"{f.name} imports {name}"
            top = name.split(".")[0]
            ok = (top in STDLIB or top in ("numpy", "scipy") or name.startswith("convert.holdoutsim")
                  or any(name == k or name.startswith(k + ".") for k in ALLOWED_KIT))
            assert ok, f"{f.name} imports {name}, outside stdlib/numpy/scipy/convert.holdoutsim/{ALLOWED_KIT}"
    assert "convert.recordings" in seen and "convert.taxonomy" in seen


def test_docstring_declares_the_held_out_role():
    doc = hs.__doc__.lower()
    assert "held-out outside check" in doc and "never be trained on or tuned against" in doc


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("holdoutsim")
    cfg = CorpusConfig(clips_per_class=2, sample_rate=FS, seed=7)
    write_corpus(d, cfg)
    return d, cfg


def _recs(corpus):
    d, _ = corpus
    return {r.name: r for r in load_datadir(d)}


def test_directory_loads_with_labels_scale_and_counts(corpus):
    d, cfg = corpus
    recs = _recs(corpus)
    counts = clip_counts(cfg)
    assert counts["voluntary_muap"] == 6 and all(counts[k] == 2 for k in LABELS if k != "voluntary_muap")
    assert len(recs) == sum(counts.values())
    for name, rec in recs.items():
        label = name.rsplit("_", 1)[0]
        assert label in LABELS
        assert rec.uv_per_lsb == pytest.approx(cfg.chain.uv_per_lsb)
        assert rec.sample_rate == FS and rec.duration_s == pytest.approx(8.0)
        found = {s.label for s in rec.segments} | {lab for _, lab in rec.meta["events"]}
        if label == "rest":
            assert not found
        elif label == "endplate_spike":
            assert found <= {"endplate_spike", "endplate_noise"} and rec.meta["events"]
        else:
            assert found == {label}, (name, found)
    assert (d / "holdoutsim.json").is_file()


def _uv(rec) -> np.ndarray:
    return rec.pcm.astype(float) * rec.uv_per_lsb


def _pp_around(x: np.ndarray, t_s: float, half_ms: float) -> float:
    k, h = int(round(t_s * FS)), int(half_ms * FS / 1000)
    seg = x[max(k - h, 0):k + h + 1]
    return float(seg.max() - seg.min())


def test_fibrillation_amplitude_duration_and_regularity():
    cfg = CorpusConfig(sample_rate=FS, seed=3)
    pps, cvs = [], []
    for i in range(6):
        clip, pcm, _ = draw_clip("fibrillation", i, cfg)
        x = pcm * cfg.chain.uv_per_lsb
        pps += [_pp_around(x, t, 2.5) for t, _ in clip.events[1:-1]]
        for g in clip.meta["generators"]:
            d = np.diff(g["times"])
            if len(d) >= 5:
                cvs.append(np.std(d) / np.mean(d))
                assert 1 / np.mean(d) <= 15.5 and 1 / np.mean(d) >= 0.35 * 0.7
    pps = np.array(pps)
    # 20–200 µV drawn; band-pass, noise and the odd overlap of two fibres widen it a little
    assert np.percentile(pps, 5) >= 12 and np.percentile(pps, 95) <= 260, np.percentile(pps, [5, 95])
    assert max(cvs) < 0.12  # regular (slowing adds a little to the interval spread)


def test_fibrillation_shape_initial_positive_and_short():
    rng = np.random.default_rng(0)
    for _ in range(20):
        dur = rng.uniform(1, 5)
        w = shapes.fibre_spike(rng, 100000, 100.0, dur, initial_positive=True)
        thr = 0.2 * np.abs(w).max()
        first = w[np.argmax(np.abs(w) >= thr)]
        assert first > 0
        above = np.flatnonzero(np.abs(w) >= 0.05 * np.abs(w).max())
        assert (above[-1] - above[0]) / 100.0 <= 5.5  # ms


def test_endplate_spikes_irregular_and_initial_negative():
    cfg = CorpusConfig(sample_rate=FS, seed=3)
    for i in range(4):
        clip, _, _ = draw_clip("endplate_spike", i, cfg)
        t = np.array([e[0] for e in clip.events])
        d = np.diff(t)
        assert np.std(d) / np.mean(d) > 0.5  # irregular (fibrillations are < 0.12 above)
        assert d.min() >= 0.0  # sorted
    rng = np.random.default_rng(1)
    for _ in range(10):
        w = shapes.endplate_spike(rng, 100000, 150.0, rng.uniform(2, 5))
        assert w[np.argmax(np.abs(w) >= 0.2 * np.abs(w).max())] < 0


def test_crd_identical_complexes_at_constant_intervals_with_abrupt_edges():
    # a quiet chain here: hum not locked to the discharge would blur the identity measure, and
    # noise would hide whether anything of the discharge is left outside its episodes
    cfg = CorpusConfig(sample_rate=FS, seed=5, chain=ChainConfig(hum_probability=0.0, noise_rms_uv=(0.0, 0.5)))
    for i in range(3):
        clip, pcm, _ = draw_clip("complex_repetitive_discharge", i, cfg)
        x = pcm * cfg.chain.uv_per_lsb
        for a, b, _ in clip.segments:
            t = np.array([e[0] for e in clip.events if a <= e[0] < b])
            d = np.diff(t)
            assert np.std(d) / np.mean(d) < 0.01
            assert 4.9 <= 1 / np.mean(d) <= 101
            # identical complexes: snippets around discharges correlate almost perfectly
            h = int((clip.meta["complex_ms"] * 0.6 + 1.0) * FS / 1000)
            snips = np.array([x[int(round(s * FS)) - h:int(round(s * FS)) + h] for s in t[1:-1]
                              if int(round(s * FS)) - h >= 0 and int(round(s * FS)) + h <= len(x)])
            c = np.corrcoef(snips[:10])
            assert c.min() > 0.9, c.min()
        # abrupt start and stop: quiet outside the episodes (beyond one complex and 20 ms of filter ring)
        inside, near = np.zeros(len(x), bool), np.zeros(len(x), bool)
        m = int((clip.meta["complex_ms"] / 1000 + 0.02) * FS)
        for a, b, _ in clip.segments:
            inside[int(a * FS):int(b * FS)] = True
            near[max(int(a * FS) - m, 0):int(a * FS) + m] = True
            near[max(int(b * FS) - m, 0):int(b * FS) + m] = True
        if (~inside & ~near).sum() > FS // 4:
            assert np.abs(x[~inside & ~near]).max() < 0.05 * np.abs(x[inside & ~near]).max()


def test_voluntary_interval_cv_and_recruitment_by_effort():
    cfg = CorpusConfig(sample_rate=FS, seed=11)
    cvs, near_by_effort = [], {}
    for i in range(9):
        clip, _, _ = draw_clip("voluntary_muap", i, cfg)
        near = [u for u in clip.meta["units"] if u["near"]]
        near_by_effort.setdefault((clip.meta["pool"], clip.meta["effort"]), len(near))
        for u in clip.meta["units"]:
            d = np.diff(u["times"])
            if len(d) >= 30:
                cvs.append(np.std(d) / np.mean(d))
                assert 4.0 <= 1 / np.mean(d) <= 32.0
    cvs = np.array(cvs)
    assert 0.10 <= np.median(cvs) <= 0.35 and np.percentile(cvs, 5) >= 0.07 and np.percentile(cvs, 95) <= 0.42
    assert near_by_effort[("normal", "low")] <= 2 < near_by_effort[("normal", "high")]
    assert near_by_effort[("neurogenic", "high")] <= 5


def test_neuromyotonic_rate_above_150_hz_and_decrementing():
    cfg = CorpusConfig(sample_rate=FS, seed=2)
    for i in range(3):
        clip, pcm, _ = draw_clip("neuromyotonic_discharge", i, cfg)
        x = pcm * cfg.chain.uv_per_lsb
        for a, b, _ in clip.segments:
            assert 0.5 <= b - a <= 2.0 + 1e-6 or b >= 8.0 - 1e-6
            t = np.array([e[0] for e in clip.events if a <= e[0] < b])
            assert (len(t) - 1) / (t[-1] - t[0]) > 150
            # the signal's own fundamental inside the train (spectral peak of the segment)
            seg = x[int(a * FS):int(b * FS)]
            spec = np.abs(np.fft.rfft(seg - seg.mean()))
            f = np.fft.rfftfreq(len(seg), 1 / FS)
            band = (f > 100) & (f < 400)
            assert f[band][np.argmax(spec[band])] > 150
            n = len(seg) // 5
            assert np.ptp(seg[:n]) > np.ptp(seg[-n:])


def test_myokymic_bursts_and_myotonic_waxing_waning():
    cfg = CorpusConfig(sample_rate=FS, seed=4)
    for i in range(3):
        clip, _, _ = draw_clip("myokymic_discharge", i, cfg)
        for u in clip.meta["units"]:
            rate = (len(u["bursts"]) - 1) / (u["bursts"][-1] - u["bursts"][0])
            assert 1.5 <= rate <= 11
            d = np.diff(u["times"])
            inner = d[d < 0.04]
            assert len(inner) and 28 <= 1 / np.median(inner) <= 62
        clip, _, _ = draw_clip("myotonic_discharge", i, cfg)
        for ep in clip.meta["episodes"]:
            r = 1 / np.diff(ep["times"])
            k = max(len(r) // 8, 1)
            assert r.max() <= 165 and np.median(r[:k]) < np.percentile(r, 90) > np.median(r[-k:])


def test_fasciculations_sparse_irregular_and_muap_sized():
    cfg = CorpusConfig(sample_rate=FS, seed=9)
    n_events = []
    for i in range(6):
        clip, _, _ = draw_clip("fasciculation", i, cfg)
        n_events.append(len(clip.events))
        for u in clip.meta["units"]:
            assert 123 <= u["amp_uv"] <= 3599 and 2.8 <= u["duration_ms"] <= 23.9
    assert min(n_events) >= 1 and np.mean(n_events) / 8.0 < 3.0


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def digest(d):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}

    cfg = CorpusConfig(clips_per_class=1, voluntary_multiplier=1, duration_s=2.0, sample_rate=8000, seed=21)
    write_corpus(tmp_path / "a", cfg)
    write_corpus(tmp_path / "b", cfg)
    write_corpus(tmp_path / "c", CorpusConfig(clips_per_class=1, voluntary_multiplier=1, duration_s=2.0,
                                              sample_rate=8000, seed=22))
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b and len(a) == 2 * len(LABELS) + 1
    assert sum(a[k] != c[k] for k in a if k.endswith(".wav")) >= len(LABELS) - 1


@pytest.mark.parametrize("kwargs, name", [
    ({"clips_per_class": 0}, "clips_per_class = 0"),
    ({"voluntary_multiplier": 11}, "voluntary_multiplier = 11"),
    ({"duration_s": 1.0}, "duration_s = 1.0"),
    ({"sample_rate": 1000}, "sample_rate = 1000"),
    ({"seed": -1}, "seed = -1"),
])
def test_bad_corpus_config_names_the_value(kwargs, name):
    with pytest.raises(ValueError, match=name.replace("(", r"\(")):
        CorpusConfig(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    ({"low_cut_hz": (20.0, 10.0)}, "low_cut_hz = (20.0, 10.0)"),
    ({"high_cut_hz": (500.0, 800.0)}, "high_cut_hz = (500.0, 800.0)"),
    ({"hum_probability": 1.5}, "hum_probability = 1.5"),
    ({"uv_per_lsb": 0.0}, "uv_per_lsb = 0.0"),
])
def test_bad_chain_config_names_the_value(kwargs, name):
    with pytest.raises(ValueError, match=name.replace("(", r"\(").replace(")", r"\)")) as info:
        ChainConfig(**kwargs)
    assert "allowed" in str(info.value)


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(5.0, 40.0), cv=st.floats(0.05, 0.6), seed=st.integers(0, 2**32 - 1))
def test_renewal_train_keeps_rate_and_cv(rate, cv, seed):
    t = renewal_train(np.random.default_rng(seed), 0.0, 60.0, rate, cv)
    d = np.diff(t)
    assert t.min() >= 0 and t.max() < 60 and np.all(d > 0)
    assert abs(1 / d.mean() - rate) / rate < 0.15
    assert abs(d.std() / d.mean() - cv) < 0.25 * cv + 0.02


@settings(max_examples=25, deadline=None)
@given(amp=st.floats(20.0, 5000.0), dur=st.floats(2.0, 25.0), n_extra=st.integers(0, 7),
       seed=st.integers(0, 2**32 - 1))
def test_muap_peak_to_peak_and_support(amp, dur, n_extra, seed):
    w = shapes.muap(np.random.default_rng(seed), 50000, amp, dur, n_extra)
    assert np.ptp(w) == pytest.approx(amp, rel=1e-9)
    above = np.flatnonzero(np.abs(w) >= 0.02 * np.abs(w).max())
    assert (above[-1] - above[0]) / 50.0 <= 1.2 * dur + 1.0  # ms: the potential stays within its duration
