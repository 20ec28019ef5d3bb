"""Shared helpers for the link / virtual amplifier tests (engineer B2)."""

from __future__ import annotations

import time
import wave

import numpy as np

from firmware_bridge.host.source import SampleBlock

#: Failure guard for waits; never a performance claim.
GUARD_S = 20.0


def ramp_pcm(n: int, seed: int = 0) -> np.ndarray:
    """Distinct-looking int16 samples so that misplaced samples are caught."""
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, n).astype(np.int16)


def write_wav(path, pcm: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm, dtype="<i2").tobytes())


def wait_for(predicate, timeout: float = GUARD_S, step: float = 0.01) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def drain(link, pcm: np.ndarray | None = None, on_block=None, timeout: float = GUARD_S) -> list[SampleBlock]:
    """Read blocks until EOF; check each against ``pcm``; returns the blocks."""
    blocks: list[SampleBlock] = []
    end = time.monotonic() + timeout
    while True:
        assert time.monotonic() < end, "stream did not end in time"
        try:
            b = link.read_block(timeout=0.5)
        except EOFError:
            return blocks
        if b is None:
            continue
        if blocks:
            assert b.first_index == blocks[-1].end_index + b.gap_before
        if pcm is not None:
            np.testing.assert_array_equal(b.samples, pcm[b.first_index:b.end_index])
        blocks.append(b)
        if on_block is not None:
            on_block(b, blocks)


class PtyUnit:
    """A scripted unit on a real pseudo-terminal: the test writes frames, a thread reads (and
    decodes, counting) what the host sends, so neither side ever blocks the other."""

    def __init__(self) -> None:
        import threading

        from firmware_bridge import codec as P
        from firmware_bridge.sim.ptyport import PtyPort

        self._P = P
        self.port = PtyPort()
        self.path = self.port.open()
        self.host_frames: dict[str, int] = {}
        self._dec = P.Decoder()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            readable, _ = self.port.wait(False, 0.02)
            if readable:
                for f in self._dec.feed(self.port.read()):
                    self.host_frames[type(f).__name__] = self.host_frames.get(type(f).__name__, 0) + 1

    def send(self, *frames, wire: bytes | None = None, guard_s: float = GUARD_S) -> None:
        """Write ``frames`` (or raw ``wire`` bytes) completely, waiting while the pty is full."""
        data = memoryview(wire if wire is not None else b"".join(self._P.encode(f) for f in frames))
        end = time.monotonic() + guard_s
        while data:
            assert time.monotonic() < end, "the host stopped reading"
            n = self.port.write_some(data)
            data = data[n:]
            if not n:
                self.port.wait(True, 0.02)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.port.close()
