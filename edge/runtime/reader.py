"""The reader thread: source → bounded queue, merging contiguous blocks (the only place that does).

The thread reads :class:`~edge.runtime.roles.SampleBlock` s from the source and hands the
service loop, through a bounded queue, one of:

* a block: contiguous source blocks merged by :func:`merge_blocks`, up to ``coalesce``
  samples. Blocks are merged while the source has more at once or while the loop is busy
  (not waiting in :meth:`Reader.get`), so a backlog (a replay, catching up after a stall)
  reaches the front-end in few large calls, and a live stream, which the loop waits for, is
  handed over block by block with no added delay;
* :class:`ScaleChange`: the source's µV per LSB changed (a new HELLO from the unit); it is
  queued between the last block before the change and the first after it;
* :data:`END`: the source ended (``EOFError``) or raised; :meth:`Reader.get` re-raises what
  it raised.

Back-pressure: when the queue is full the thread stops taking blocks beyond ``coalesce``
samples, so the source's own bounded buffer fills (SerialLink stops reading the port and the
unit drops what it cannot send; the ADC drops its oldest block); memory stays bounded and the
loss shows up as a gap in the sample counter. Port loss and reconnection are the source's
business (SerialLink reopens the port itself and reports the missed samples as a gap).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, replace

import numpy as np

from edge.runtime.roles import SampleBlock, SampleSource

#: Most audio (s) merged into one front-end call from blocks the source already holds.
COALESCE_S = 0.1
#: Seconds the thread waits for a block, or for room in a full queue, before looking again.
_POLL_S = 0.1
#: Seconds it waits for more blocks to merge while the loop is busy, before looking again.
_HOLD_S = 0.002


@dataclass(frozen=True)
class ScaleChange:
    """Queue marker: the source's µV per LSB changed before the next block."""

    uv_per_lsb: float


class _End:
    def __repr__(self) -> str:
        return "END"


#: Queue marker: the source ended (or failed: :meth:`Reader.get` raises its exception).
END = _End()


def merge_blocks(parts: list[SampleBlock]) -> SampleBlock:
    """Contiguous blocks → one block; its index and gap accounting are the first block's."""
    if len(parts) == 1:
        return parts[0]
    return replace(parts[0], samples=np.concatenate([b.samples for b in parts]))


def source_scale(source: SampleSource) -> float | None:
    """The µV per LSB a source states now; None when it does not know (0: no HELLO yet)."""
    uv = source.uv_per_lsb
    return float(uv) if uv else None


class Reader(threading.Thread):
    """Moves blocks from ``source`` into a queue of ``capacity`` items (the pipeline's ring buffer).

    ``coalesce``: most samples merged into one item; ``scale``: the µV per LSB already applied
    (a different one read later is queued as a :class:`ScaleChange`).
    """

    def __init__(self, source: SampleSource, stop: threading.Event, capacity: int, coalesce: int,
                 scale: float | None = None) -> None:
        super().__init__(name="emg-edge-reader", daemon=True)
        self.source = source
        self.stop = stop
        self.coalesce = max(1, int(coalesce))
        self.scale = scale
        self.q: queue.Queue = queue.Queue(maxsize=capacity)
        self.error: BaseException | None = None
        self._waiting = threading.Event()  # set while the loop waits in get(): hand over now

    # -- the service loop's side -------------------------------------------------------------
    def get(self, timeout: float = _POLL_S) -> SampleBlock | ScaleChange | _End | None:
        """Next item, None if none within ``timeout`` s; re-raises the source's failure at END."""
        self._waiting.set()
        try:
            item = self.q.get(timeout=timeout)
        except queue.Empty:
            return None
        finally:
            self._waiting.clear()
        if item is END and self.error is not None:
            raise self.error
        return item

    @property
    def depth(self) -> int:
        """Items waiting in the queue."""
        return self.q.qsize()

    @property
    def capacity(self) -> int:
        return self.q.maxsize

    # -- the thread --------------------------------------------------------------------------
    def run(self) -> None:
        parts: list[SampleBlock] = []
        try:
            self._loop(parts)
        except EOFError:
            pass
        except BaseException as exc:  # noqa: BLE001 - re-raised by get() in the service loop
            self.error = exc
        if parts:
            self._put(merge_blocks(parts))
        self._put(END)

    def _loop(self, parts: list[SampleBlock]) -> None:
        n = 0

        def hand_over() -> None:
            nonlocal n
            self._put(merge_blocks(parts))
            parts.clear()
            n = 0

        while not self.stop.is_set():
            block = self.source.read_block(timeout=0 if parts else _POLL_S)
            if block is None and parts:
                if self._waiting.is_set():  # the loop is idle: no reason to hold the samples back
                    hand_over()
                    continue
                block = self.source.read_block(timeout=_HOLD_S)  # the loop is busy: keep merging
            if block is None or not block.samples.size:
                continue
            uv = source_scale(self.source)
            if uv is not None and uv != self.scale:
                if parts:
                    hand_over()
                self.scale = uv
                self._put(ScaleChange(uv))
            elif parts and block.first_index != parts[-1].end_index:
                hand_over()
            parts.append(block)
            n += int(block.samples.size)
            if n >= self.coalesce:
                hand_over()

    def _put(self, item) -> None:
        # Blocks while the pipeline is behind (the back-pressure above), until stopped.
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue
