"""The one account of stream indices: missing samples, duplicates and restarts.

A unit numbers every sample it acquires with a free-running 64-bit index, so a reader knows
exactly how many samples are missing between two blocks, however many frames (or bytes) were
lost in between. Every source (:class:`~firmware_bridge.host.link.SerialLink`,
:class:`~firmware_bridge.host.adc.AdcSource`, :class:`~firmware_bridge.host.source.WavSource`)
runs its indices through a :class:`GapTracker` and reports the result on each
:class:`~firmware_bridge.host.source.SampleBlock`; the edge pipeline applies the same rule,
:func:`index_step`, to decide between zero-fill and a new segment.

Given the next expected index and a block ``[first, first + n)``:

* the first block starts the stream (samples before it are not a gap: the reader cannot know
  where the stream began);
* a block at or after the expected index is new; the difference is a gap (exact);
* a block starting before it is a duplicate or overlap: its leading samples already seen are
  skipped and counted, never reported as a gap. The caller may instead declare such a rewind a
  *restart* of the stream (``fresh``: a reconnect or a new HELLO, where a unit that rebooted
  counts from zero again; or ``rewind_restart``: the whole block lies that many samples before
  the expected index);
* an index that jumps by more than ``max_jump`` samples either way is a restart too, whatever
  else holds: one corrupt-but-valid frame with an absurd ``first_index`` (say +2**63) must not
  make every later sample look like a duplicate. The default, 2**32 samples, is 24.8 h at
  48 kHz; a longer real outage is then reported as a restart (gap unknown) instead of a gap.

A restart reports no gap (the gap across a reboot is unknown); the new stream starts at the
block's first index.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IndexStep", "index_step", "GapTracker", "MAX_JUMP"]

#: Largest index jump (samples, either direction) read as a gap or a duplicate; beyond it the
#: stream restarted (or the index is corrupt).
MAX_JUMP = 1 << 32


@dataclass(frozen=True)
class IndexStep:
    """What one block means for the stream position.

    Keep ``samples[skip:]``; they start at index ``first_index`` (= block first + ``skip``),
    ``gap`` samples after the previous new sample. ``start``: a new stream begins at
    ``first_index`` (the first block, or a ``restart``).
    """

    first_index: int
    skip: int = 0
    gap: int = 0
    start: bool = False
    restart: bool = False


def index_step(expected: int | None, first_index: int, n: int, *, fresh: bool = False,
               rewind_restart: int | None = None, max_jump: int = MAX_JUMP) -> IndexStep:
    """The step a block of ``n`` samples at ``first_index`` makes from ``expected`` (the index
    one past the last sample already taken; ``None`` before the first block). See the module
    docstring for ``fresh``, ``rewind_restart`` and ``max_jump`` (samples)."""
    if n < 0 or first_index < 0:
        raise ValueError(f"need first_index >= 0 and n >= 0, got {first_index}, {n}")
    if expected is None:
        return IndexStep(first_index, start=True)
    jump = first_index - expected
    if abs(jump) > max_jump:
        return IndexStep(first_index, start=True, restart=True)
    if jump >= 0:
        return IndexStep(first_index, gap=jump)
    end = first_index + n
    if fresh or (rewind_restart is not None and expected - end > rewind_restart):
        return IndexStep(first_index, start=True, restart=True)
    dup = min(end, expected) - first_index
    return IndexStep(first_index + dup, skip=dup)


@dataclass
class GapTracker:
    """Follows one stream's indices with :func:`index_step` and counts what it saw.

    ``expected`` is None until the first block (the start of a stream is not a gap), unless
    ``start_index`` is given (then samples missing before the first block count).
    ``rewind_restart`` and ``max_jump`` (samples) are passed to :func:`index_step`.
    """

    start_index: int | None = None
    rewind_restart: int | None = None
    max_jump: int = MAX_JUMP
    expected: int | None = None
    gap_samples: int = 0        #: total samples missing (sum of all gaps)
    gaps: int = 0               #: number of discontinuities with missing samples
    received_samples: int = 0   #: samples accepted as new (duplicates excluded)
    duplicate_samples: int = 0  #: samples whose index was already seen (skipped)
    rewinds: int = 0            #: blocks starting before ``expected`` (duplicate or restart)
    restarts: int = 0           #: index restarts (rewinds declared a restart, absurd jumps)

    def __post_init__(self) -> None:
        if self.start_index is not None:
            if self.start_index < 0:
                raise ValueError(f"start_index must be >= 0, got {self.start_index}")
            self.expected = self.start_index
        if self.rewind_restart is not None and self.rewind_restart < 0:
            raise ValueError(f"rewind_restart must be >= 0 samples, got {self.rewind_restart}")
        if self.max_jump < 1:
            raise ValueError(f"max_jump must be >= 1 sample, got {self.max_jump}")

    def update(self, first_index: int, n: int, *, fresh: bool = False) -> IndexStep:
        """Account for a block of ``n`` samples starting at ``first_index``; ``fresh``: the
        source may have restarted since the previous block (a rewind is then a restart)."""
        step = index_step(self.expected, first_index, n, fresh=fresh, rewind_restart=self.rewind_restart,
                          max_jump=self.max_jump)
        if self.expected is not None and first_index < self.expected:
            self.rewinds += 1
        self.restarts += step.restart
        if step.gap:
            self.gaps += 1
            self.gap_samples += step.gap
        kept = n - step.skip
        self.duplicate_samples += step.skip
        self.received_samples += kept
        if kept or step.start:
            self.expected = step.first_index + kept
        return step

    def end(self, end_index: int) -> int:
        """The stream ended with ``end_index`` as its next index (a unit's end-of-stream report):
        count and return the samples missing at the end (0 if none, or if the jump is absurd)."""
        if self.expected is None or not 0 < end_index - self.expected <= self.max_jump:
            return 0
        gap = end_index - self.expected
        self.gaps += 1
        self.gap_samples += gap
        self.expected = end_index
        return gap

    def reset(self, start_index: int | None = None) -> None:
        """Forget the stream position (the counters stay)."""
        self.expected = start_index
