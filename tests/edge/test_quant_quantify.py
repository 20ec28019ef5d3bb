"""``quantify`` end to end: bad input gives an empty result with a reason (never invented
units), calibration scales amplitudes, the JSON document, and ``emg-edge quantify``."""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from convert.simulator import simulate_clip
from convert.simulator.voluntary_truth import render_voluntary_truth
from edge.quant import QuantConfig, quantify

FS = 10_000


@pytest.fixture(scope="module")
def voluntary():
    return render_voluntary_truth(21, effort=0.1, duration_s=8.0, sample_rate=FS)


@pytest.fixture(scope="module")
def result(voluntary):
    return quantify(voluntary.pcm, FS, uv_per_lsb=voluntary.uv_per_lsb, muscle="tibialis_anterior")


def _empty(r, reason_part: str) -> None:
    assert r.units == []
    assert reason_part in r.measures.reason
    assert r.to_json()["motor_units"] == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rest_only_is_empty(seed):
    rec = simulate_clip("rest", 8.0, FS, seed, background="none")
    r = quantify(rec.pcm, FS, uv_per_lsb=rec.uv_per_lsb)
    assert r.units == [] and r.measures.reason


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_fibrillations_are_not_motor_units(seed):
    """No voluntary activity, only regular (CV < 0.04) fibrillation potentials."""
    rec = simulate_clip("fibrillation", 8.0, FS, seed, background="none")
    r = quantify(rec.pcm, FS, uv_per_lsb=rec.uv_per_lsb)
    assert r.units == [] and r.measures.reason


@pytest.mark.parametrize("rms", [5.0, 50.0, 500.0])
def test_pure_noise_is_empty(rms):
    x = np.random.default_rng(int(rms)).normal(0.0, rms, 8 * FS)
    _empty(quantify(x, FS), "no potentials")


def test_clipped_input_is_refused(voluntary):
    x = np.clip(voluntary.pcm.astype(np.int32) * 40, -32768, 32767).astype(np.int16)
    _empty(quantify(x, FS, uv_per_lsb=voluntary.uv_per_lsb / 40), "clipped")


def test_flat_nan_and_short_input():
    _empty(quantify(np.zeros(5 * FS, dtype=np.int16), FS), "flat")
    x = np.ones(5 * FS)
    x[7] = np.nan
    _empty(quantify(x, FS), "non-finite")
    _empty(quantify(np.zeros(FS // 2), FS), "too short")


def test_api_errors_name_the_value():
    with pytest.raises(ValueError, match="sample_rate_hz"):
        quantify(np.zeros(10_000), 100)
    with pytest.raises(ValueError, match="1-D"):
        quantify(np.zeros((2, 10_000)), FS)
    with pytest.raises(ValueError, match="uv_per_lsb"):
        quantify(np.zeros(10_000), FS, uv_per_lsb=-1)


def test_units_found_and_ordered(result, voluntary):
    units = result.units
    assert len(units) >= 3
    assert [u.id for u in units] == list(range(len(units)))
    firsts = [u.discharge_times_s[0] for u in units]
    assert firsts == sorted(firsts)  # recruitment order
    for u in units:
        assert u.n_discharges == len(u.discharge_times_s) >= QuantConfig().min_discharges
        assert 5.0 <= u.firing_rate_hz <= 30.0
        assert u.amplitude_uv > 100.0 and u.duration_ms > 0 and u.phases >= 1


def test_amplitude_follows_calibration(voluntary, result):
    """The same codes at twice the µV per LSB: every amplitude and area doubles."""
    r2 = quantify(voluntary.pcm, FS, uv_per_lsb=2 * voluntary.uv_per_lsb)
    assert len(r2.units) == len(result.units)
    for a, b in zip(result.units, r2.units):
        assert b.amplitude_uv == pytest.approx(2 * a.amplitude_uv, rel=0.02)
        assert b.discharge_times_s == a.discharge_times_s


def test_duration_markers_span_the_duration(result):
    """Each template's onset/end markers (ms on the templates' time axis) are its duration apart
    and bracket the template's largest deflection."""
    assert len(result.markers_ms) == len(result.units) == len(result.templates)
    fs = result.measures.sample_rate_hz
    for (on, end), u, t in zip(result.markers_ms, result.units, result.templates):
        assert end - on == pytest.approx(u.duration_ms, abs=1e-9)
        peak = result.template_t0_ms + int(np.argmax(np.abs(t))) * 1000.0 / fs
        assert result.template_t0_ms <= on <= peak <= end


def test_json_document(result):
    doc = json.loads(json.dumps(result.to_json()))
    assert set(doc) == {"motor_units", "summary", "reference", "pattern"}
    need = {"id", "n_discharges", "firing_rate_hz", "isi_cv", "amplitude_uv", "duration_ms", "phases", "turns",
            "area_uv_ms", "discharge_times_s"}
    assert all(need <= set(u) for u in doc["motor_units"])
    for u in doc["motor_units"]:  # the duration's sensitivity to its criterion (±2 dB of level)
        lo, hi = u["duration_range_ms"]
        assert lo <= u["duration_ms"] <= hi
    s = doc["summary"]
    assert s["n_units"] == len(doc["motor_units"]) and s["reason"] is None
    assert s["interference"]["turns_per_s"] > 0


def test_cli_wav_json_and_plot(tmp_path, voluntary):
    pytest.importorskip("matplotlib")
    wav = tmp_path / "v.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(FS)
        w.writeframes(voluntary.pcm.tobytes())
    out, png = tmp_path / "q.json", tmp_path / "q.png"
    cmd = [sys.executable, "-m", "edge.cli", "quantify", "--source", f"wav:{wav}?uv_per_lsb={voluntary.uv_per_lsb}",
           "--json", str(out), "--plot", str(png)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(out.read_text())
    assert len(doc["motor_units"]) >= 3
    assert png.stat().st_size > 10_000
    bad = subprocess.run([sys.executable, "-m", "edge.cli", "quantify", "--source", f"wav:{wav}", "--json", "-"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert "µV per LSB" in bad.stderr and "Traceback" not in bad.stderr


def test_interference_grows_with_effort():
    """Turns per second of the whole signal: denser at 30 % than at 5 % MVC."""
    tps = []
    for effort in (0.05, 0.3):
        tr = render_voluntary_truth(22, effort=effort, duration_s=4.0, sample_rate=FS)
        tps.append(quantify(tr.pcm, FS, uv_per_lsb=tr.uv_per_lsb).measures.interference["turns_per_s"])
    assert tps[1] > 1.3 * tps[0]


@pytest.mark.pty
@pytest.mark.skipif(__import__("os").name != "posix", reason="needs a POSIX pty")
def test_live_serial_source_is_quantified_for_fixed_seconds(voluntary):
    """``serial:`` through the runtime's source code: the unit's HELLO gives the scale."""
    from edge.quant.cli import read_source
    from firmware_bridge.sim.virtual_amp import VirtualAmplifier

    amp = VirtualAmplifier(voluntary.pcm, FS, voluntary.uv_per_lsb, speed=None)
    path = amp.start()
    try:
        x, fs, uv = read_source(f"serial:{path}", seconds=3.0)
    finally:
        amp.stop()
    assert (fs, uv, len(x)) == (FS, voluntary.uv_per_lsb, 3 * FS)
    r = quantify(x, fs, uv_per_lsb=uv)
    assert len(r.units) >= 2


def _train(rng, rate_hz, seconds=20.0, cv=0.15, fs=FS):
    isi = np.clip(rng.normal(1.0 / rate_hz, cv / rate_hz, int(seconds * rate_hz * 1.2)), 0.5 / rate_hz, 2.0 / rate_hz)
    t = np.cumsum(isi) + rng.uniform(0, 1.0 / rate_hz)
    return np.round(t[t < seconds] * fs).astype(np.int64)


@pytest.mark.parametrize("seed", range(5))
def test_fragments_of_one_unit_are_joined_two_units_are_not(seed):
    """One unit's discharges dealt at random to three near-identical templates (no pair's
    union is regular) are joined into one train; two units at the same rate with the same
    templates are not (their union has short intervals)."""
    from edge.quant.quantify import _merge_fragments

    rng = np.random.default_rng(seed)
    tmpl = np.sin(np.linspace(0, 3 * np.pi, 31)) * np.hanning(31) * 300.0
    T = np.stack([tmpl, tmpl * 1.03, tmpl * 0.97])
    unit = _train(rng, 14.0)
    deal = rng.integers(0, 3, len(unit))
    out = _merge_fragments([unit[deal == k] for k in range(3)], FS, T)
    assert len(out) == 1 and np.array_equal(out[0], unit)
    a, b = _train(rng, 14.0), _train(rng, 14.3)
    assert len(_merge_fragments([a, b], FS, T[:2])) == 2


@pytest.mark.parametrize("seed", range(3))
def test_fragments_aligned_at_two_points_are_joined_on_one(seed):
    """A biphasic unit learned twice, centred once on each lobe (its templates 8 samples
    apart, beyond the matching shift): its two fragments' union is regular only once the
    smaller one is moved to the larger one's alignment, and every joined discharge is then at
    the unit's own time, not 8 samples off."""
    from edge.quant.quantify import _merge_fragments

    rng = np.random.default_rng(seed)
    tmpl = np.sin(np.linspace(0, 2 * np.pi, 21)) * np.hanning(21) * 300.0
    a_tmpl = np.zeros(41)
    a_tmpl[10:31] = tmpl
    b_tmpl = np.roll(a_tmpl, 8)  # the same potential, centred 8 samples earlier
    unit = _train(rng, 14.0)
    second = rng.random(len(unit)) < 0.35
    big, small = unit[~second], unit[second] - 8  # found through b: stamped 8 samples early
    out = _merge_fragments([big, small], FS, np.stack([a_tmpl, b_tmpl]))
    assert len(out) == 1 and np.array_equal(out[0], unit)


@pytest.mark.parametrize("seed", range(3))
def test_fragments_sharing_one_potential_are_joined_by_their_rhythm(seed):
    """One unit dealt at random to two fragments, one potential matched by both (0.5 ms
    apart): their union is regular, so they are one train with that discharge counted once."""
    from edge.quant.quantify import _merge_fragments

    rng = np.random.default_rng(seed)
    unit = _train(rng, 14.0)
    deal = rng.random(len(unit)) < 0.5
    a = unit[deal]
    b = np.sort(np.append(unit[~deal], a[len(a) // 2] + 5))
    out = _merge_fragments([a, b], FS)
    assert len(out) == 1 and len(out[0]) == len(unit)


@pytest.mark.parametrize("seed", range(3))
def test_fragments_aligned_at_three_points_are_joined_through_the_middle(seed):
    """A unit learned three times, centred 6 samples apart: the outer two templates are 12
    samples apart, beyond the half-width (10), so they never match each other, but each
    matches the middle one. The joined train keeps its members' templates, so the third
    fragment is aligned through the middle one and every discharge lands on one alignment
    (any of the three: the display template's peak sets the reported time)."""
    from edge.quant.quantify import _merge_fragments

    rng = np.random.default_rng(seed)
    spike = np.sin(np.linspace(0, 2 * np.pi, 7)) * np.hanning(7) * 300.0
    T = np.zeros((3, 21))
    for i, c in enumerate((1, 7, 13)):  # the potential 0, 6 and 12 samples later in the window
        T[i, c:c + 7] = spike
    unit = _train(rng, 14.0)
    deal = rng.choice(3, len(unit), p=[0.45, 0.15, 0.4])
    out = _merge_fragments([unit[deal == k] - 6 * k for k in range(3)], FS, T)
    assert len(out) == 1 and any(np.array_equal(out[0], unit - 6 * k) for k in range(3))
