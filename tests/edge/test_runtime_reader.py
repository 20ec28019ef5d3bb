"""The reader thread: the only block merge, scale markers in stream order, the source's failure
re-raised in the service loop."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.runtime.reader import END, Reader, ScaleChange, merge_blocks
from edge.runtime.roles import SampleBlock


class ListSource:
    """A SampleSource over a list of blocks; ``scales[i]`` is its µV/LSB once block i is read."""

    sample_rate = 8000

    def __init__(self, blocks, scales=None, fail: Exception | None = None) -> None:
        self.blocks, self.scales, self.fail, self.i = list(blocks), scales, fail, 0
        self.uv_per_lsb = scales[0] if scales else 0.5

    def read_block(self, timeout=None):
        if self.i == len(self.blocks):
            raise self.fail or EOFError("end")
        if self.scales:
            self.uv_per_lsb = self.scales[self.i]
        self.i += 1
        return self.blocks[self.i - 1]

    def close(self):
        pass


def drained(reader: Reader) -> list:
    """Everything the reader queued, after it ended (the loop never waited: merging is maximal)."""
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive()
    items = []
    while True:
        item = reader.get(timeout=0)
        items.append(item)
        if item is END:
            return items


def blocks_from(sizes, gaps, seed=0):
    rng = np.random.default_rng(seed)
    out, idx = [], 0
    for n, gap in zip(sizes, gaps):
        idx += gap
        out.append(SampleBlock(idx, rng.integers(-2000, 2000, n).astype(np.int16), gap))
        idx += n
    return out


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 300), min_size=1, max_size=40), data=st.data(),
       coalesce=st.integers(1, 1000))
def test_merged_items_keep_every_sample_and_never_span_a_gap(sizes, data, coalesce):
    gaps = [0] + data.draw(st.lists(st.sampled_from([0, 0, 0, 7]), min_size=len(sizes) - 1,
                                    max_size=len(sizes) - 1))
    blocks = blocks_from(sizes, gaps)
    items = drained(Reader(ListSource(blocks), threading.Event(), capacity=10_000, coalesce=coalesce, scale=0.5))
    got = items[:-1]
    assert all(isinstance(b, SampleBlock) for b in got)
    assert np.array_equal(np.concatenate([b.samples for b in got]), np.concatenate([b.samples for b in blocks]))
    starts = {b.first_index for b in blocks if b.gap_before} | {blocks[0].first_index}
    assert starts <= {b.first_index for b in got}  # a gap always starts a new item
    for a, b in zip(got, got[1:]):
        if b.first_index == a.end_index:
            assert a.samples.size >= coalesce  # contiguous items are split only at coalesce
    for b in got:
        assert b.samples.size < coalesce + max(sizes)  # merging stops once coalesce is reached
        assert b.gap_before == next(x.gap_before for x in blocks if x.first_index == b.first_index)


def test_scale_change_is_queued_between_the_blocks_it_separates():
    blocks = blocks_from([100] * 6, [0] * 6)
    src = ListSource(blocks, scales=[0.5, 0.5, 0.5, 0.25, 0.25, 0.25])
    items = drained(Reader(src, threading.Event(), capacity=100, coalesce=10_000, scale=0.5))
    assert [type(i).__name__ for i in items] == ["SampleBlock", "ScaleChange", "SampleBlock", "_End"]
    assert items[0].end_index == 300 and items[1] == ScaleChange(0.25) and items[2].first_index == 300


def test_source_failure_is_raised_in_the_loop_after_the_blocks_before_it():
    blocks = blocks_from([50, 50], [0, 0])
    reader = Reader(ListSource(blocks, fail=OSError("port gone")), threading.Event(), capacity=100, coalesce=10,
                    scale=0.5)
    reader.start()
    reader.join(timeout=30)
    assert [reader.get(timeout=0).first_index, reader.get(timeout=0).first_index] == [0, 50]
    with pytest.raises(OSError, match="port gone"):
        reader.get(timeout=0)


def test_merge_keeps_the_first_blocks_accounting():
    a, b = blocks_from([3, 4], [5, 0])
    m = merge_blocks([a, b])
    assert (m.first_index, m.gap_before, m.samples.tolist()) == (5, 5, a.samples.tolist() + b.samples.tolist())
    assert merge_blocks([a]) is a
