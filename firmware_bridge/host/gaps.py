"""Exact accounting of missing samples from the ``first_index`` of SAMPLES frames.

The unit numbers every sample it acquires with a free-running 64-bit index, so the host
knows exactly how many samples are missing between two frames, however many frames
(or bytes) were lost in between. Duplicates and overlaps (e.g. after a retransmission
or a unit reset) are counted separately and never reported as gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GapTracker"]


@dataclass
class GapTracker:
    """Track the next expected sample index and count missing samples.

    ``expected`` is None until the first block (the start of a stream is not a gap),
    unless ``start_index`` is given (then samples missing before the first block count).
    """

    start_index: int | None = None
    expected: int | None = None
    gap_samples: int = 0      #: total samples missing (sum of all gaps)
    gaps: int = 0             #: number of discontinuities with missing samples
    received_samples: int = 0  #: samples accepted as new (duplicates excluded)
    duplicate_samples: int = 0  #: samples whose index was already seen
    rewinds: int = 0          #: blocks starting before ``expected`` (duplicate or reset)

    def __post_init__(self) -> None:
        if self.start_index is not None:
            if self.start_index < 0:
                raise ValueError(f"start_index must be >= 0, got {self.start_index}")
            self.expected = self.start_index

    def update(self, first_index: int, n: int) -> int:
        """Account for a block of ``n`` samples starting at ``first_index``.

        Returns the number of samples missing immediately before this block (0 if none).
        """
        if n < 0 or first_index < 0:
            raise ValueError(f"need first_index >= 0 and n >= 0, got {first_index}, {n}")
        end = first_index + n
        if self.expected is None:
            self.expected = end
            self.received_samples += n
            return 0
        if first_index >= self.expected:
            gap = first_index - self.expected
            if gap:
                self.gaps += 1
                self.gap_samples += gap
            self.received_samples += n
            self.expected = end
            return gap
        # Starts before what we expected: (partly) a duplicate.
        self.rewinds += 1
        dup = min(end, self.expected) - first_index
        self.duplicate_samples += dup
        if end > self.expected:
            self.received_samples += end - self.expected
            self.expected = end
        return 0

    def reset(self, start_index: int | None = None) -> None:
        """Forget the stream position (call on a new HELLO: the unit may have rebooted)."""
        self.expected = start_index
