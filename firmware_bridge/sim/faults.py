"""Fault injection for the virtual amplifier: a noisy cable and an unplugged USB lead.

Byte faults are applied to the bytes the amplifier writes (and, with ``both_directions``,
to the bytes it reads, so that alerts and their ACKs get hit too):

* ``bit_error_rate``: each bit flips independently with this probability;
* ``drop_rate``: each byte is lost independently with this probability;
* ``burst_every_bytes`` / ``burst_len``: on average every ``burst_every_bytes`` bytes a burst
  of ``burst_len`` consecutive bytes is lost (a cable glitch, a UART FIFO overrun).

Unplugging: at each stream time in ``unplug_at_s`` (seconds of the recording, i.e. sample
index / sample rate) the amplifier closes its pseudo-terminal as a USB lead would vanish, waits
``unplug_for_s`` seconds of wall-clock time and comes back on a new one. The amplifier keeps
acquiring while unplugged, so those samples are lost (at ``speed=max`` it acquires at 1× while
unplugged). All randomness comes from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["FaultConfig", "ByteFaults"]


@dataclass(frozen=True)
class FaultConfig:
    """What goes wrong on the virtual wire (see the module docstring)."""

    bit_error_rate: float = 0.0
    drop_rate: float = 0.0
    burst_every_bytes: float = 0.0  # 0 = no bursts
    burst_len: int = 64
    both_directions: bool = False
    unplug_at_s: tuple[float, ...] = field(default_factory=tuple)
    unplug_for_s: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.bit_error_rate <= 0.01:
            raise ValueError(f"bit_error_rate must be in 0..0.01, got {self.bit_error_rate}")
        if not 0.0 <= self.drop_rate <= 0.5:
            raise ValueError(f"drop_rate must be in 0..0.5, got {self.drop_rate}")
        if self.burst_every_bytes != 0 and not self.burst_every_bytes >= 100:
            raise ValueError(f"burst_every_bytes must be 0 (off) or >= 100 bytes, got {self.burst_every_bytes}")
        if not 1 <= self.burst_len <= 1_000_000:
            raise ValueError(f"burst_len must be in 1..1000000 bytes, got {self.burst_len}")
        if not 0.0 <= self.unplug_for_s <= 600.0:
            raise ValueError(f"unplug_for_s must be in 0..600 s, got {self.unplug_for_s}")
        times = tuple(float(t) for t in self.unplug_at_s)
        if any(t < 0 for t in times):
            raise ValueError(f"unplug_at_s must be >= 0 s, got {times}")
        object.__setattr__(self, "unplug_at_s", tuple(sorted(times)))

    @property
    def byte_faults(self) -> bool:
        """True if any byte-level fault is enabled."""
        return self.bit_error_rate > 0 or self.drop_rate > 0 or self.burst_every_bytes > 0


@dataclass
class FaultStats:
    """What the injector did: bytes seen, dropped (singly and in bursts), bits flipped."""

    bytes_in: int = 0
    bytes_dropped: int = 0
    bursts: int = 0
    bits_flipped: int = 0


class ByteFaults:
    """Applies the byte faults of a :class:`FaultConfig` to a byte stream, chunk by chunk."""

    def __init__(self, config: FaultConfig, seed_offset: int = 0) -> None:
        self.config = config
        self.stats = FaultStats()
        self._rng = np.random.default_rng([config.seed, seed_offset])
        self._burst_left = 0  # bytes still to drop from the current burst
        self._until_burst = self._draw_burst_gap()

    def _draw_burst_gap(self) -> int:
        if self.config.burst_every_bytes <= 0:
            return -1
        return int(self._rng.geometric(1.0 / self.config.burst_every_bytes))

    def apply(self, data: bytes) -> bytes:
        """``data`` as it arrives at the far end of the faulty wire."""
        cfg = self.config
        self.stats.bytes_in += len(data)
        if not cfg.byte_faults or not data:
            return data
        buf = np.frombuffer(data, dtype=np.uint8).copy()
        keep = np.ones(buf.size, dtype=bool)
        if cfg.burst_every_bytes > 0:
            pos = 0
            while pos < buf.size:
                if self._burst_left > 0:
                    n = min(self._burst_left, buf.size - pos)
                    keep[pos:pos + n] = False
                    self._burst_left -= n
                    pos += n
                    continue
                step = min(self._until_burst, buf.size - pos)
                self._until_burst -= step
                pos += step
                if self._until_burst == 0:
                    self.stats.bursts += 1
                    self._burst_left = cfg.burst_len
                    self._until_burst = self._draw_burst_gap()
        if cfg.drop_rate > 0:
            keep &= self._rng.random(buf.size) >= cfg.drop_rate
        if cfg.bit_error_rate > 0:
            n_bits = buf.size * 8
            n_flips = int(self._rng.binomial(n_bits, cfg.bit_error_rate))
            if n_flips:
                bits = np.unique(self._rng.integers(0, n_bits, n_flips))  # a bit flipped twice is not flipped
                np.bitwise_xor.at(buf, bits // 8, (1 << (bits % 8)).astype(np.uint8))
                self.stats.bits_flipped += int(bits.size)
        out = buf[keep]
        self.stats.bytes_dropped += int(buf.size - out.size)
        return out.tobytes()
