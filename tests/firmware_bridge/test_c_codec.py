"""Shared test vectors, and the C codec cross-checked against the Python codec.

The C codec (firmware_bridge/c/) is compiled with the system C compiler (`cc`) into a
test driver that decodes stdin to text lines and encodes text lines to wire bytes; both
directions must agree byte for byte (and counter for counter) with the Python codec, on
the committed vectors and on random, corrupted streams. The C tests are skipped only when
no C compiler is installed; the vector tests of the Python codec always run.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.codec.frametext import from_line, stats_line, to_line
from firmware_bridge.codec import (
    MAX_ENCODED, Ack, Alert, Decoder, FrameType, Heartbeat, Hello, HelloRequest, Samples, Start,
    Stop, encode,
)

C_DIR = Path(__file__).resolve().parents[2] / "firmware_bridge" / "c"
VECTORS = Path(__file__).resolve().parent / "vectors"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc/clang) on PATH: C codec not cross-checked")
STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion",
          "-Wno-sign-conversion", "-Werror"]


def py_decode_lines(data: bytes) -> list[str]:
    dec = Decoder()
    return [to_line(f) for f in dec.feed(data)] + [stats_line(dec.stats)]


# ---------------------------------------------------------------- Python vs committed vectors


def test_python_encoder_matches_vectors():
    lines = (VECTORS / "frames.txt").read_text().splitlines()
    assert b"".join(encode(from_line(line)) for line in lines) == (VECTORS / "frames.bin").read_bytes()


def test_python_decoder_matches_vectors():
    lines = (VECTORS / "frames.txt").read_text().splitlines()
    got = py_decode_lines((VECTORS / "frames.bin").read_bytes())
    assert got[:-1] == lines
    assert got[-1] == f"STATS frames={len(lines)} crc=0 cobs=0 length=0 version=0 unknown=0 malformed=0 oversize=0 dropped=0"


def test_python_decoder_matches_corrupted_vector():
    expected = (VECTORS / "corrupted.txt").read_text().splitlines()
    assert py_decode_lines((VECTORS / "corrupted.bin").read_bytes()) == expected


# ---------------------------------------------------------------- C builds


@pytest.fixture(scope="module")
def cbin(tmp_path_factory):
    if CC is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("emg_c")
    src = [str(C_DIR / "emg_proto.c")]
    subprocess.run([CC, *STRICT, "-o", str(out / "emg_proto_tool"), str(C_DIR / "emg_proto_tool.c"), *src],
                   check=True, capture_output=True, text=True)
    subprocess.run([CC, *STRICT, "-o", str(out / "emg_unit_example"), str(C_DIR / "main.c"), *src, "-lm"],
                   check=True, capture_output=True, text=True)
    return out


def c_tool(cbin: Path, mode: str, data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([str(cbin / "emg_proto_tool"), mode], input=data, capture_output=True, timeout=60)


def c_decode_lines(cbin: Path, data: bytes) -> list[str]:
    res = c_tool(cbin, "decode", data)
    assert res.returncode == 0, res.stderr
    return res.stdout.decode().splitlines()


def c_encode(cbin: Path, lines: list[str]) -> bytes:
    res = c_tool(cbin, "encode", "".join(line + "\n" for line in lines).encode())
    assert res.returncode == 0, res.stderr
    return res.stdout


@needs_cc
def test_codec_compiles_cleanly_as_c99_with_warnings_as_errors(cbin):
    # The fixture already built everything with -Werror; the codec alone must also build
    # without POSIX (firmware toolchains): compile it with -std=c99 -pedantic only.
    res = subprocess.run([CC, *STRICT, "-c", "-o", os.devnull, str(C_DIR / "emg_proto.c")],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr == ""
    assert "malloc" not in (C_DIR / "emg_proto.c").read_text()


@needs_cc
def test_c_crc_check_value(cbin):
    assert c_tool(cbin, "crc", b"123456789").stdout.strip() == b"cbf43926"


@needs_cc
def test_c_encoder_matches_vectors(cbin):
    lines = (VECTORS / "frames.txt").read_text().splitlines()
    assert c_encode(cbin, lines) == (VECTORS / "frames.bin").read_bytes()


@needs_cc
def test_c_decoder_matches_vectors(cbin):
    lines = (VECTORS / "frames.txt").read_text().splitlines()
    assert c_decode_lines(cbin, (VECTORS / "frames.bin").read_bytes())[:-1] == lines
    expected = (VECTORS / "corrupted.txt").read_text().splitlines()
    assert c_decode_lines(cbin, (VECTORS / "corrupted.bin").read_bytes()) == expected


def random_frames(rng: random.Random, n: int) -> list:
    out = []
    for seq in range(n):
        k = rng.randrange(8)
        if k <= 2:
            m = rng.randint(1, 508)
            vals = np.array([rng.choice((0, 1, -1, 256, rng.randint(-32768, 32767))) for _ in range(m)], np.int16)
            out.append(Samples(rng.randrange(2**64), vals, seq=seq))
        elif k == 3:
            onset = rng.randrange(2**63)
            label = rng.choice(["fibrillation", "", "myotonic_discharge", "ü" * 32])
            out.append(Alert(rng.randrange(2**32), label, rng.random(), onset, onset + rng.randrange(10**6),
                             rng.randrange(256), seq=seq))
        elif k == 4:
            out.append(Ack(rng.choice(list(FrameType)), rng.randrange(2**32), seq=seq))
        elif k == 5:
            out.append(Heartbeat(rng.randrange(2**32), rng.randrange(2), rng.randrange(2**64),
                                 rng.randrange(2**32), seq=seq))
        elif k == 6:
            out.append(Hello("dev" * rng.randint(0, 10), "fw", rng.randint(1, 10**6), 16,
                             rng.uniform(0.01, 10), rng.randint(1, 8), seq=seq))
        else:
            out.append(rng.choice([Stop(seq=seq), Start(1, 48000, 480, seq=seq), HelloRequest(seq=seq)]))
    return out


@needs_cc
def test_c_and_python_agree_in_both_directions_on_random_frames(cbin):
    frames = random_frames(random.Random(11), 400)
    lines = [to_line(f) for f in frames]
    wire = b"".join(encode(f) for f in frames)
    assert c_encode(cbin, lines) == wire                    # C encoder == Python encoder
    assert c_decode_lines(cbin, wire)[:-1] == lines         # C decoder reads Python frames
    assert py_decode_lines(c_encode(cbin, lines))[:-1] == lines  # Python reads C frames


def corrupt(rng: random.Random, wire: bytes, rate: float) -> bytes:
    out = bytearray()
    for frame in wire.split(b"\x00")[:-1]:
        w = bytearray(frame + b"\x00")
        if rng.random() < rate:
            for _ in range(rng.randint(1, 3)):
                p = rng.randrange(len(w))
                op = rng.randrange(5)
                if op == 0:
                    w[p] ^= 1 << rng.randrange(8)
                elif op == 1 and len(w) > 1:
                    del w[p]
                elif op == 2:
                    w.insert(p, rng.randrange(256))
                elif op == 3:
                    w.insert(p, w[p])
                else:
                    w[p:p] = bytes(rng.randrange(1, 256) for _ in range(rng.randint(1, 2 * MAX_ENCODED)))
        out += w
    return bytes(out)


@needs_cc
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_c_and_python_decoders_agree_on_corrupted_streams(cbin, seed):
    rng = random.Random(seed)
    wire = b"".join(encode(f) for f in random_frames(rng, 300))
    bad = corrupt(rng, wire, 0.4)
    expected = py_decode_lines(bad)
    assert c_decode_lines(cbin, bad) == expected            # same frames AND same drop counters
    assert int(expected[-1].split("dropped=")[1]) > 0


@needs_cc
def test_c_and_python_decoders_agree_on_pure_garbage(cbin):
    rng = random.Random(5)
    junk = bytes(rng.choice((0, 1, 2, 0xFF, rng.randrange(256))) for _ in range(50_000))
    assert c_decode_lines(cbin, junk) == py_decode_lines(junk)


@needs_cc
def test_c_encoder_refuses_out_of_range_fields(cbin):
    for line in ("ALERT seq=1 id=1 onset=5 offset=4 conf=10 sev=0 label=",   # offset < onset
                 "ALERT seq=1 id=1 onset=0 offset=0 conf=10001 sev=0 label=",  # confidence > 1
                 "HELLO seq=0 pv=1 width=16 ch=1 rate=0 uv=3f000000 id= fw=",  # rate 0
                 "HELLO seq=0 pv=1 width=16 ch=1 rate=1 uv=7fc00000 id= fw=",  # NaN µV/LSB
                 "START seq=0 pv=1 spf=509 rate=0",
                 "ERROR seq=0 code=1 msg=c328"):                               # invalid UTF-8
        res = c_tool(cbin, "encode", (line + "\n").encode())
        assert res.returncode == 1 and res.stdout == b"", line
        with pytest.raises(ValueError):
            from_line(line)


@needs_cc
def test_example_unit_streams_a_sine_on_stdout(cbin):
    res = subprocess.run([str(cbin / "emg_unit_example"), "-r", "8000", "-f", "250", "-a", "1000", "-s", "1"],
                         capture_output=True, timeout=30)
    assert res.returncode == 0
    dec = Decoder()
    frames = dec.feed(res.stdout)
    assert dec.stats.dropped_frames == 0
    hello = frames[0]
    assert isinstance(hello, Hello) and hello.sample_rate == 8000 and hello.uv_per_lsb == 0.5
    assert [f.seq for f in frames] == list(range(len(frames)))
    blocks = [f for f in frames if isinstance(f, Samples)]
    assert all(len(b.samples) == 80 for b in blocks)                 # 10 ms frames
    assert [b.first_index for b in blocks] == list(range(0, 8000, 80))
    pcm = np.concatenate([b.samples for b in blocks])
    ref = np.round(1000 * np.sin(2 * np.pi * 250 * np.arange(8000) / 8000))
    assert np.abs(pcm - ref).max() <= 1
    beats = [f for f in frames if isinstance(f, Heartbeat)]
    assert [b.next_index for b in beats] == [0, 2000, 4000, 6000]    # every 250 ms of samples
    assert all(b.state == 1 for b in beats)


def _read_frames(fd: int, dec: Decoder, until, timeout: float = 5.0) -> list:
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            got += dec.feed(os.read(fd, 65536))
            if until(got):
                return got
    raise AssertionError(f"timed out; got {[type(f).__name__ for f in got]}")


@needs_cc
def test_example_unit_answers_a_host_over_a_pty(cbin):
    master, slave = os.openpty()
    proc = subprocess.Popen([str(cbin / "emg_unit_example"), "-r", "8000", os.ttyname(slave)],
                            stderr=subprocess.PIPE)
    try:
        dec = Decoder()
        got = _read_frames(master, dec, lambda g: any(isinstance(f, Hello) for f in g))
        os.write(master, encode(HelloRequest(seq=0)) + encode(Start(1, 0, 0, seq=1)))
        got = _read_frames(master, dec, lambda g: sum(isinstance(f, Samples) for f in g) >= 3)
        assert any(isinstance(f, Hello) for f in got)
        assert Ack(FrameType.START, 1) in [Ack(f.ref_type, f.ref_id) for f in got if isinstance(f, Ack)]
        blocks = [f for f in got if isinstance(f, Samples)]
        assert all(b2.first_index == b1.first_index + 80 for b1, b2 in zip(blocks, blocks[1:]))
        alert = Alert(77, "fibrillation", 0.93, 100, 900, 2, seq=2)
        os.write(master, encode(alert) + encode(Alert(77, "fibrillation", 0.93, 100, 900, 2, seq=3)))
        got = _read_frames(master, dec, lambda g: sum(isinstance(f, Ack) and f.ref_id == 77 for f in g) >= 2)
        os.write(master, encode(Stop(seq=4)))
        _read_frames(master, dec, lambda g: any(isinstance(f, Ack) and f.ref_type == FrameType.STOP for f in g))
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=5)
        os.close(master)
        os.close(slave)
    shown = [line for line in err.decode().splitlines() if line.startswith("ALERT")]
    assert shown == ["ALERT #77 fibrillation 93.00% samples 100-900 severity 2"]   # shown once, ACKed twice


@needs_cc
def test_c_and_python_agree_on_utf8_validity(cbin):
    # ERROR frames (valid CRC) whose message is random bytes biased towards multi-byte
    # UTF-8 edge cases: overlongs, surrogates, > U+10FFFF, truncated sequences.
    import struct
    import zlib

    from firmware_bridge.codec import cobs
    rng = random.Random(9)
    alphabet = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
                0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
    wire = bytearray()
    for seq in range(3000):
        msg = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        body = struct.pack("<BBBBIH", 1, FrameType.ERROR, 0, 0, seq, 4 + len(msg))
        body += struct.pack("<HBx", 1, len(msg)) + msg
        wire += cobs.encode(body + struct.pack("<I", zlib.crc32(body))) + b"\x00"
    expected = py_decode_lines(bytes(wire))
    assert c_decode_lines(cbin, bytes(wire)) == expected
    ok = len(expected) - 1
    assert 50 < ok < 2950    # both valid and invalid strings were exercised
