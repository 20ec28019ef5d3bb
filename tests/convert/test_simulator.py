"""Simulator API: shapes, labels, events, determinism, validation."""

from __future__ import annotations

import numpy as np
import pytest

from convert.recording import Recording
from convert.simulator import AmplifierConfig, Subject, simulate_clip, simulate_recording
from convert.simulator.amplifier import amplify
from convert.taxonomy import LABEL_INDEX, LABELS, PATHOLOGICAL, REST


@pytest.mark.parametrize("label", LABELS)
def test_clip_every_class(label):
    rec = simulate_clip(label, 2.0, 16000, seed=7)
    assert isinstance(rec, Recording)
    assert rec.pcm.dtype == np.int16 and len(rec.pcm) == 32000
    assert rec.sample_rate == 16000 and rec.uv_per_lsb == AmplifierConfig().uv_per_lsb
    track = rec.label_track()
    if label == "rest":
        assert (track == REST).all()
    else:
        assert (track == LABEL_INDEX[label]).any()
    assert rec.meta["subject_id"] == Subject.draw(7).subject_id and rec.meta["seed"] == 7
    times = [t for t, _ in rec.meta["events"]]
    assert times == sorted(times) and all(0 <= t < 2.0 for t in times)
    if label not in ("rest", "endplate_noise"):
        assert any(lab == label for _, lab in rec.meta["events"])


def test_deterministic_and_seed_dependent():
    a = simulate_clip("fibrillation", 1.0, 44100, seed=3)
    b = simulate_clip("fibrillation", 1.0, 44100, seed=3)
    c = simulate_clip("fibrillation", 1.0, 44100, seed=4)
    assert np.array_equal(a.pcm, b.pcm) and a.meta["events"] == b.meta["events"]
    assert not np.array_equal(a.pcm, c.pcm)
    r1 = simulate_recording(11, 20.0, 22050)
    r2 = simulate_recording(11, 20.0, 22050)
    assert np.array_equal(r1.pcm, r2.pcm) and r1.segments == r2.segments


@pytest.mark.parametrize("rate", [8000, 11025, 48000])
def test_any_rate(rate):
    rec = simulate_clip("voluntary_muap", 1.0, rate, seed=1)
    assert len(rec.pcm) == rate
    # Same subject, same activity scale at every rate: RMS within a factor 2 of 44.1 kHz.
    ref = simulate_clip("voluntary_muap", 1.0, 44100, seed=1)
    ratio = np.std(rec.pcm.astype(float)) / np.std(ref.pcm.astype(float))
    assert 0.5 < ratio < 2.0


def test_recording_plan_scripted():
    plan = [("rest", 2.0), ("fibrillation", 3.0), ("voluntary_muap", 2.0), ("CRD", 3.0)]
    rec = simulate_recording(5, 12.0, 16000, plan=plan, background="none")
    labels = [s.label for s in rec.segments]
    assert labels == ["fibrillation", "voluntary_muap", "complex_repetitive_discharge"]
    fib = rec.segments[0]
    assert fib.start_s == pytest.approx(2.0) and fib.end_s == pytest.approx(5.0)
    track = rec.label_track()
    assert (track[int(10.5 * 16000):] == REST).all()  # after the plan: rest
    assert track[int(3.0 * 16000)] == LABEL_INDEX["fibrillation"]


def test_recording_unscripted_has_pathology_somewhere():
    found = set()
    for seed in range(6):
        rec = simulate_recording(seed, 30.0, 8000)
        assert rec.duration_s == pytest.approx(30.0)
        found |= {s.label for s in rec.segments}
    assert found & set(PATHOLOGICAL)
    assert "voluntary_muap" in found or "insertional" in found


def test_subject_draw_and_validation():
    s = Subject.draw(42)
    assert s == Subject.draw(42) and s != Subject.draw(43)
    assert s.mains_hz in (50.0, 60.0) and 3.0 <= s.noise_uv_rms <= 10.0
    # Pool amplitudes 0.3–3 mV hold for a normal muscle (1.4.0: the muscle state is drawn too).
    assert all(300.0 <= a <= 3000.0 for a in Subject.draw(42, muscle="normal").mu_amplitude_uv)
    with pytest.raises(ValueError, match="noise_uv_rms"):
        Subject(**{**s.__dict__, "noise_uv_rms": 50.0})
    with pytest.raises(ValueError, match="mains_hz"):
        Subject(**{**s.__dict__, "mains_hz": 55.0})


def test_subject_needle_and_muscle_conditions():
    s = Subject.draw(5)
    assert s.needle in ("concentric", "monopolar") and s.muscle_state in ("normal", "myopathic", "neurogenic")
    m = Subject.draw(5, needle="monopolar", muscle="normal")
    assert m.needle == "monopolar" and m.muscle_state == "normal" and m == Subject.draw(5, needle="monopolar", muscle="normal")
    c = Subject.draw(5, needle="concentric", muscle="normal")
    assert c.mu_amplitude_uv == m.mu_amplitude_uv and c.noise_uv_rms == m.noise_uv_rms  # only the needle differs
    needles = {Subject.draw(k).needle for k in range(40)}
    states = {Subject.draw(k).muscle_state for k in range(40)}
    assert needles == {"concentric", "monopolar"} and states == {"normal", "myopathic", "neurogenic"}
    with pytest.raises(ValueError, match="'bipolar'.*concentric, monopolar"):
        Subject.draw(5, needle="bipolar")
    with pytest.raises(ValueError, match="'dystrophic'.*normal, myopathic, neurogenic"):
        Subject.draw(5, muscle="dystrophic")
    with pytest.raises(ValueError, match="needle"):
        Subject(**{**s.__dict__, "needle": "surface"})
    rec = simulate_clip("voluntary_muap", 1.0, 8000, seed=5, subject=Subject.draw(5, needle="monopolar"))
    assert rec.meta["subject"]["needle"] == "monopolar"


def test_bad_arguments_name_the_range():
    with pytest.raises(ValueError, match="8000..48000"):
        simulate_clip("rest", 1.0, 4000, seed=1)
    with pytest.raises(ValueError, match="duration_s"):
        simulate_clip("rest", 0.0, 8000, seed=1)
    with pytest.raises(ValueError, match="unknown label"):
        simulate_clip("sparkles", 1.0, 8000, seed=1)
    with pytest.raises(ValueError, match="background"):
        simulate_clip("fibrillation", 1.0, 8000, seed=1, background="music")
    with pytest.raises(ValueError, match="uv_per_lsb"):
        AmplifierConfig(uv_per_lsb=0.0)
    with pytest.raises(ValueError, match="lowpass_hz"):
        AmplifierConfig(lowpass_hz=20.0)


def test_amplifier_gain_rounding_and_saturation():
    cfg = AmplifierConfig(uv_per_lsb=1.0)
    fs = 44100
    t = np.arange(fs) / fs
    x = 1000.0 * np.sin(2 * np.pi * 1000.0 * t)  # mid-band tone: passes at unity gain
    pcm, clipped = amplify(x, fs, cfg)
    assert clipped == 0
    assert np.abs(pcm[fs // 2:]).max() == pytest.approx(1000, abs=15)
    pcm, clipped = amplify(100.0 * x, fs, cfg)  # 100 mV: overload
    assert clipped > 0 and pcm.max() == 32767 and pcm.min() == -32768
    # The high-pass removes a DC offset / slow drift.
    pcm, _ = amplify(np.full(fs, 500.0) + 200 * np.sin(2 * np.pi * 0.2 * t), fs, cfg)
    assert np.abs(pcm[fs // 2:]).max() < 20


@pytest.mark.parametrize("overlay", ["endplate_noise", "voluntary_muap", "insertional"])
def test_pathology_over_background(overlay):
    rec = simulate_clip("fibrillation", 3.0, 16000, seed=2, background=overlay)
    assert [s.label for s in rec.segments] == ["fibrillation"]  # labelled over its background
    assert rec.meta["episodes"][0]["background"] == overlay
    labels = {lab for _, lab in rec.meta["events"]}
    assert "fibrillation" in labels
    if overlay != "endplate_noise":  # MEPPs are too many to list
        assert overlay in labels
    # How loud the overlay is (scaled under the pattern): test_overlay_stays_under_the_pattern.


@pytest.mark.parametrize("label", ["fibrillation", "positive_sharp_wave", "complex_repetitive_discharge",
                                   "myotonic_discharge"])
@pytest.mark.parametrize("overlay", ["endplate_noise", "voluntary_muap"])
def test_overlay_stays_under_the_pattern(label, overlay):
    # The episode is the pattern plus the overlay scaled by overlay_gain (<= 1, the draws unchanged),
    # and the overlay's level is at most OVERLAY_PROMINENCE of the pattern's median event peak:
    # spontaneous activity is read in a relaxed muscle, not under units that hide it.
    from convert.simulator import scenes as S
    from convert.simulator.subject import Subject

    fs, n = 16000.0, 48000
    for seed in range(4):
        subject = Subject.draw(70 + seed, muscle="neurogenic")  # the largest overlay units
        under, pattern = S._Canvas(n, fs), S._Canvas(n, fs)
        rng = np.random.default_rng(seed)
        S._overlay(under, rng, subject, overlay)
        S._RENDERERS[label](pattern, rng, subject)
        events = [t for t, lab in pattern.events if lab == label]
        gain = S.overlay_gain(under.buf, pattern.buf, events, fs)
        ep = S.render_episode(label, n / fs, fs, subject, np.random.default_rng(seed), overlay)
        np.testing.assert_allclose(ep.signal, pattern.buf + gain * under.buf)
        w = int(0.002 * fs)
        size = np.median([np.abs(pattern.buf[max(int(t * fs) - w, 0):int(t * fs) + w + 1]).max() for t in events])
        assert 0 < gain <= 1
        assert S._block_level(gain * under.buf, fs) <= S.OVERLAY_PROMINENCE * size * (1 + 1e-9)


def test_overlay_gain_leaves_a_small_overlay_alone():
    from convert.simulator.scenes import overlay_gain

    fs = 1000.0
    pattern = np.zeros(2000)
    pattern[[500, 1500]] = 100.0
    small = np.full(2000, 10.0)
    assert overlay_gain(small, pattern, [0.5, 1.5], fs) == 1.0
    assert overlay_gain(10 * small, pattern, [0.5, 1.5], fs) == pytest.approx(0.5)
    assert overlay_gain(np.zeros(2000), pattern, [0.5], fs) == 1.0


def test_auto_background_varies_for_pathology_only():
    kinds = {simulate_clip("myokymic_discharge", 0.5, 8000, seed=s).meta["episodes"][0]["background"]
             for s in range(40)}
    assert "none" in kinds and len(kinds) >= 3
    for label in ("voluntary_muap", "fasciculation"):  # normal classes; sparse pathology
        assert {simulate_clip(label, 0.5, 8000, seed=s).meta["episodes"][0]["background"]
                for s in range(8)} == {"none"}


def test_a_silent_pathological_episode_is_labelled_by_its_background():
    # A fasciculation episode in which no unit fired shows only its background: no span of the class
    # (before 1.6.0 it was labelled fasciculation throughout, and a recording with no fasciculation
    # event at all fell back to that span in the window labels).
    from convert.simulator import scenes as S
    from convert.simulator.subject import Subject

    subject = Subject.draw(3)
    silent = fired = 0
    for seed in range(30):
        ep = S.render_episode("fasciculation", 0.8, 8000.0, subject, np.random.default_rng(seed))
        has = any(lab == "fasciculation" for _, lab in ep.events)
        assert ep.spans == ([(0.0, 0.8, "fasciculation")] if has else [])
        silent, fired = silent + (not has), fired + has
    assert silent and fired
