"""The one account of stream indices (firmware_bridge.host.gaps): gaps, duplicates, restarts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.host.gaps import MAX_JUMP, GapTracker, IndexStep, index_step


def test_gap_tracker_exact():
    g = GapTracker()
    assert g.update(1000, 10) == IndexStep(1000, start=True)  # stream start is not a gap
    assert g.update(1010, 10) == IndexStep(1010)
    assert g.update(1050, 10) == IndexStep(1050, gap=30)
    assert g.update(1040, 10) == IndexStep(1050, skip=10)     # late duplicate: all skipped
    assert g.update(1055, 10) == IndexStep(1060, skip=5)      # partial overlap
    assert (g.gap_samples, g.gaps, g.duplicate_samples, g.received_samples) == (30, 1, 15, 35)
    assert (g.expected, g.rewinds, g.restarts) == (1065, 2, 0)
    g2 = GapTracker(start_index=0)
    assert g2.update(5, 1).gap == 5
    assert g2.end(10) == 4 and (g2.gaps, g2.gap_samples, g2.expected) == (2, 9, 10)
    assert g2.end(10) == 0 and g2.end(2**62) == 0  # nothing missing; an absurd end is ignored


def test_a_rewind_is_a_restart_when_fresh_or_far_behind():
    g = GapTracker(rewind_restart=100)
    g.update(5000, 50)
    assert g.update(5000, 50, fresh=True) == IndexStep(5000, start=True, restart=True)
    assert g.update(4900, 50) == IndexStep(4950, skip=50)  # ends 50 before: a duplicate
    assert g.update(4000, 50) == IndexStep(4000, start=True, restart=True)  # ends 1000 before
    assert (g.restarts, g.rewinds, g.duplicate_samples, g.expected) == (2, 3, 50, 4050)


def test_index_step_refuses_negative_indices_and_bad_settings():
    with pytest.raises(ValueError, match="first_index >= 0"):
        index_step(0, -1, 5)
    with pytest.raises(ValueError, match="rewind_restart"):
        GapTracker(rewind_restart=-1)
    with pytest.raises(ValueError, match="max_jump"):
        GapTracker(max_jump=0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(1, 40)), min_size=1, max_size=40))
def test_tracker_matches_a_set_of_taken_indices(blocks):
    # Reference: a sample is new iff its index is above every index taken so far; what lies
    # between the previous high mark and the first new index is missing.
    g = GapTracker()
    taken: set[int] = set()
    for first, n in blocks:
        high = max(taken) if taken else None
        step = g.update(first, n)
        new = [i for i in range(first, first + n) if high is None or i > high]
        assert list(range(step.first_index, first + n)) == new
        assert step.skip == n - len(new)
        assert step.gap == (new[0] - high - 1 if new and high is not None else 0)
        assert not step.restart and step.start == (high is None)
        taken.update(new)
    assert g.received_samples == len(taken)
    assert g.duplicate_samples == sum(n for _, n in blocks) - len(taken)
    assert g.gap_samples == max(taken) + 1 - blocks[0][0] - len(taken)
    assert g.expected == max(taken) + 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 500), min_size=2, max_size=20), st.data())
def test_one_absurd_index_is_two_counted_restarts_and_nothing_is_dropped(sizes, data):
    # Issue 14: one frame whose first_index jumped by 2**63 (valid CRC) made every later sample
    # a duplicate. Any jump beyond MAX_JUMP, either way, is a restart; the stream carries on.
    origin = data.draw(st.sampled_from([0, 2**40]))
    k = data.draw(st.integers(1, len(sizes) - 1))  # the bogus block, never the first
    g = GapTracker()
    index, steps = origin, []
    for i, n in enumerate(sizes):
        if i == k:
            if origin and data.draw(st.booleans()):
                bogus = index - data.draw(st.integers(MAX_JUMP + n + 1, index))
            else:
                bogus = index + data.draw(st.integers(MAX_JUMP + 1, 2**64 - 1 - index - n))
            steps.append(g.update(bogus, n))
        else:
            steps.append(g.update(index, n))
            index += n
    assert g.received_samples == sum(sizes) and g.duplicate_samples == 0 and g.gap_samples == 0
    assert g.restarts == (2 if k < len(sizes) - 1 else 1)
    assert steps[k].restart and all(s.skip == 0 for s in steps)
