"""Slot search (``edge.quant.slots``): a found unit's discharge that no peel-off train holds is
found where its rhythm expects it, on the detection band less the peel-off's explanation."""

from __future__ import annotations

import numpy as np
import pytest

from edge.quant import QuantConfig
from edge.quant.chunks import decimation, windows
from edge.quant.slots import SlotConfig, fill_slots

FS = 10_000.0
N = 120_000          # 12 s
P = 1000             # samples: 10 Hz
CFG = QuantConfig()
Q = decimation(FS)
H, K, _ = CFG.decompose.samples(FS / Q)
MARGIN = max(Q * (H + K + 2), int(CFG.pre_ms * FS / 1000), int(CFG.post_ms * FS / 1000)) + 2
BLOCK = max(int(CFG.block_s * FS), 4 * MARGIN)


def _potential(width: float, amp: float) -> np.ndarray:
    t = np.arange(-40, 41, dtype=np.float64)
    return amp * -t / width * np.exp(-(t / width) ** 2)


MU_A = _potential(4.0, 600.0)
MU_B = _potential(9.0, -500.0)   # another unit, another shape


def _place(x: np.ndarray, times: np.ndarray, mu: np.ndarray) -> None:
    for g in times:
        x[g - 40:g + 41] += mu


def _detect(x: np.ndarray) -> np.ndarray:
    return np.concatenate([w.detect[w.dlo:w.dhi] for w in windows(x, FS, CFG.bands, BLOCK, MARGIN)])


def _template(mu: np.ndarray) -> tuple[np.ndarray, int]:
    """The detection-band template of potential ``mu`` (2H + 1 samples centred on its largest
    deflection) and that deflection's offset from the potential's centre (detection grid)."""
    x = np.zeros(N)
    _place(x, [N // 2], mu)
    d = _detect(x)
    p = int(np.argmax(np.abs(d)))
    return d[p - H:p + H + 1], p - N // 2 // Q


T_A, OFF_A = _template(MU_A)
T_B, OFF_B = _template(MU_B)


def _unit(start: int, seed: int, jitter: int = 80) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = (N - start - 2000) // P
    return start + P * np.arange(n) + rng.integers(-jitter, jitter + 1, n)


def _case(seed: int = 0):
    """Unit A with every 7th discharge (but the last) in no train, unit B firing 1.2 ms after each of those
    (a superposition the peel-off explained by B alone), over noise of 5 µV."""
    rng = np.random.default_rng(seed)
    a = _unit(1500, seed)
    missed = a[3:-1:7]  # each between two held discharges: in a gap
    b = np.sort(np.concatenate([missed + 12, _unit(1900, seed + 1)[::3]]))
    x = rng.normal(0.0, 5.0, N)
    _place(x, a, MU_A)
    _place(x, b, MU_B)
    held = np.setdiff1d(a, missed)
    trains = [held // Q + OFF_A, b // Q + OFF_B]      # the peel-off's trains (detection grid)
    return x, a, missed, held, trains


def test_missed_superposed_discharges_are_found_at_their_slots():
    x, a, missed, held, trains = _case()
    found = [Q * trains[0], Q * trains[1]]   # B is a found unit: its potentials are subtracted
    out = fill_slots(x, FS, CFG.bands, BLOCK, MARGIN, 1.0, found, trains, np.stack([T_A, T_B]), Q)
    want = Q * (missed // Q + OFF_A)
    got = out[0][~np.isin(out[0], found[0])]
    assert len(got) == len(want)
    assert np.max(np.abs(got - want)) <= 0.0005 * FS  # within ±0.5 ms (EMGLAB matching)
    assert np.array_equal(out[1], found[1])


def test_a_discharge_held_by_a_template_that_makes_no_unit_is_claimed():
    # the missed discharges sit in the train of another template of the unit's shape that makes
    # no unit (a mixture or a duplicate): not the found units' explanation, so not subtracted
    rng = np.random.default_rng(9)
    a = _unit(1500, 9)
    missed = a[3:-1:7]
    x = rng.normal(0.0, 5.0, N)
    _place(x, a, MU_A)
    held = np.setdiff1d(a, missed)
    trains = [held // Q + OFF_A, missed // Q + OFF_A]
    found = [Q * trains[0]]
    T = np.stack([T_A, 0.95 * T_A + 0.05 * T_B])
    out = fill_slots(x, FS, CFG.bands, BLOCK, MARGIN, 1.0, found, trains, T, Q)
    got = out[0][~np.isin(out[0], found[0])]
    assert len(got) == len(missed)
    assert np.max(np.abs(got - Q * (missed // Q + OFF_A))) <= 0.0005 * FS


def test_an_empty_slot_stays_empty():
    # the unit skipped those discharges: nothing there but noise and the other unit, subtracted
    rng = np.random.default_rng(3)
    a = _unit(1500, 3)
    kept = np.setdiff1d(a, a[3::7])
    b = _unit(1900, 4)[::3]
    x = rng.normal(0.0, 5.0, N)
    _place(x, kept, MU_A)
    _place(x, b, MU_B)
    trains = [kept // Q + OFF_A, b // Q + OFF_B]
    found = [Q * trains[0]]
    out = fill_slots(x, FS, CFG.bands, BLOCK, MARGIN, 1.0, found, trains, np.stack([T_A, T_B]), Q)
    assert np.array_equal(out[0], found[0])


def test_long_pauses_and_disabled_are_left_alone():
    x, a, missed, held, trains = _case(5)
    found = [Q * trains[0]]
    T = np.stack([T_A, T_B])
    out = fill_slots(x, FS, CFG.bands, BLOCK, MARGIN, 1.0, found, trains, T, Q, SlotConfig(enabled=False))
    assert np.array_equal(out[0], found[0])
    # with every discharge but the first and last few of a stretch dropped, that gap is not searched
    f = found[0]
    paused = np.concatenate([f[:20], f[26:]])  # 6 missing in a row (> max_missing 3)
    out = fill_slots(x, FS, CFG.bands, BLOCK, MARGIN, 1.0, [paused], [paused // Q, trains[1]], T, Q)
    assert not np.any((out[0] > f[19] + P // 2) & (out[0] < f[26] - P // 2))


@pytest.mark.parametrize("kw", [{"tol": 0.0}, {"gain": 1.5}, {"accept_residual": 0.0}, {"max_missing": 0},
                                {"max_missing": 2.5}, {"held_ms": -1.0}, {"enabled": 1}])
def test_config_is_validated(kw):
    with pytest.raises(ValueError):
        SlotConfig(**kw)
