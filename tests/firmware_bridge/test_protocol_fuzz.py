"""Bounded random-corruption run: 100,000 frames through a noisy link into the Decoder.

Corruptions (on about a quarter of the frames, delimiters included): bit flips, dropped,
inserted and duplicated bytes, plus occasional long bursts of line noise without a 0x00.
Checked: no exception; no corrupted frame accepted (every decoded frame equals the frame
sent with its seq); every untouched frame whose predecessor's delimiter survived is
decoded (resync within one frame); the buffer never exceeds MAX_ENCODED; and the sample
gaps reported from ``first_index`` equal exactly the samples of the SAMPLES frames lost.
"""

from __future__ import annotations

import random

import numpy as np

from firmware_bridge.host.gaps import GapTracker
from firmware_bridge.codec import (
    MAX_ENCODED, Alert, Decoder, Heartbeat, Samples, encode,
)

N_FRAMES = 100_000
SEED = 20261125


def make_stream(rng: random.Random, n_frames: int):
    """Returns (originals by seq, list of wire chunks, per-frame 'must decode' flags)."""
    nrng = np.random.default_rng(rng.randrange(2**32))
    # Pre-draw sample blocks: small frames keep the run fast; sizes vary 1..64.
    noise = nrng.integers(-2000, 2000, size=64 * n_frames, dtype=np.int16)
    originals = []
    wire = []
    must_decode = []
    index = 0
    pos = 0
    prev_delim_ok = True
    for seq in range(n_frames):
        kind = rng.random()
        if kind < 0.9:
            n = rng.randint(1, 64)
            f = Samples(index, noise[pos:pos + n], seq=seq)
            index += n
            pos += n
        elif kind < 0.95:
            f = Heartbeat(seq, 1, index, 0, seq=seq)
        else:
            f = Alert(seq, "fibrillation", 0.5, index, index + 10, 1, seq=seq)
        originals.append(f)
        w = bytearray(encode(f))
        corrupted = False
        if rng.random() < 0.25:
            corrupted = True
            for _ in range(rng.randint(1, 3)):
                op = rng.randrange(4)
                p = rng.randrange(len(w))
                if op == 0:
                    w[p] ^= 1 << rng.randrange(8)
                elif op == 1 and len(w) > 1:
                    del w[p]
                elif op == 2:
                    w.insert(p, rng.randrange(256))
                else:
                    w.insert(p, w[p])
        if rng.random() < 0.002:
            w += bytes(rng.randrange(1, 256) for _ in range(rng.randint(MAX_ENCODED, 3 * MAX_ENCODED)))
            corrupted = True
        must_decode.append(not corrupted and prev_delim_ok)
        # The next frame survives only if this frame still ends with an intact delimiter.
        prev_delim_ok = not corrupted or (len(w) > 0 and w[-1] == 0)
        wire.append(bytes(w))
    return originals, b"".join(wire), must_decode


def test_hundred_thousand_corrupted_frames():
    rng = random.Random(SEED)
    originals, stream, must_decode = make_stream(rng, N_FRAMES)
    dec = Decoder()
    received = []
    max_buffered = 0
    pos = 0
    while pos < len(stream):
        step = rng.choice((1, 7, 100, 1500, 8192, 65536))
        received += dec.feed(stream[pos:pos + step])
        max_buffered = max(max_buffered, dec.buffered)
        pos += step

    assert max_buffered <= MAX_ENCODED
    seqs = [f.seq for f in received]
    assert seqs == sorted(set(seqs)), "frames out of order or duplicated"
    for f in received:  # no corrupted frame accepted
        assert f == originals[f.seq]
    got = set(seqs)
    missing_clean = [i for i, m in enumerate(must_decode) if m and i not in got]
    assert not missing_clean, f"clean frames not decoded: {missing_clean[:10]}"

    # Every gap accounted for, exactly, from first_index.
    tracker = GapTracker()
    for f in received:
        if isinstance(f, Samples):
            tracker.update(f.first_index, len(f.samples))
    sent = [f for f in originals if isinstance(f, Samples)]
    got_samples = [f for f in received if isinstance(f, Samples)]
    first, last = got_samples[0].seq, got_samples[-1].seq
    lost = sum(len(f.samples) for f in sent if first < f.seq < last and f.seq not in got)
    assert tracker.gap_samples == lost
    assert tracker.duplicate_samples == 0
    assert tracker.received_samples == sum(len(f.samples) for f in got_samples)

    s = dec.stats
    assert s.frames == len(received)
    assert s.dropped_frames > 0 and s.oversize > 0 and s.crc_errors > 0
    assert len(received) > 0.7 * N_FRAMES
