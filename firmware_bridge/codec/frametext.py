"""One-line text form of protocol frames, identical to what ``c/emg_proto_tool`` prints.

Used to cross-check the Python and C codecs and for the shared test vectors
(``tests/firmware_bridge/vectors/``); handy for logging captures too. Integers are decimal,
strings and sample bytes lowercase hex, ``uv`` the float32 bit pattern, ``conf`` the wire
integer (units of 1e-4), so the text is exact::

    SAMPLES seq=5 first=1000 n=2 data=0100feff
"""

from __future__ import annotations

import struct

import numpy as np

from firmware_bridge.codec import (
    Ack, Alert, Config, DecoderStats, Error, Frame, FrameError, Heartbeat, Hello, HelloRequest,
    Nack, QemgSummary, Samples, Start, Stop,
)

__all__ = ["to_line", "from_line", "stats_line"]


def _f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


class _Ints(dict):
    """Field access that parses the decimal value on demand."""

    def __getitem__(self, key: str) -> int:
        return int(super().__getitem__(key))


def to_line(f: Frame) -> str:
    """The text line of one frame (no newline)."""
    if isinstance(f, Hello):
        return (f"HELLO seq={f.seq} pv={f.protocol_version} width={f.sample_width} ch={f.channels} "
                f"rate={f.sample_rate} uv={_f32_bits(f.uv_per_lsb):08x} id={f.device_id.encode().hex()} "
                f"fw={f.firmware_version.encode().hex()}")
    if isinstance(f, HelloRequest):
        return f"HELLO_REQ seq={f.seq} pv={f.protocol_version}"
    if isinstance(f, Start):
        return f"START seq={f.seq} pv={f.protocol_version} spf={f.samples_per_frame} rate={f.sample_rate}"
    if isinstance(f, Stop):
        return f"STOP seq={f.seq}"
    if isinstance(f, Samples):
        return (f"SAMPLES seq={f.seq} first={f.first_index} n={len(f.samples)} "
                f"data={f.samples.astype('<i2').tobytes().hex()}")
    if isinstance(f, Alert):
        return (f"ALERT seq={f.seq} id={f.alert_id} onset={f.onset} offset={f.offset} "
                f"conf={round(f.confidence * 10000)} sev={f.severity} label={f.label.encode().hex()}")
    if isinstance(f, Ack):
        return f"ACK seq={f.seq} ref_type={int(f.ref_type)} ref_id={f.ref_id}"
    if isinstance(f, Nack):
        return f"NACK seq={f.seq} ref_type={int(f.ref_type)} ref_id={f.ref_id} reason={int(f.reason)}"
    if isinstance(f, Heartbeat):
        return (f"HEARTBEAT seq={f.seq} up={f.uptime_ms} state={int(f.state)} next={f.next_index} "
                f"rx={f.rx_errors}")
    if isinstance(f, Error):
        return f"ERROR seq={f.seq} code={int(f.code)} msg={f.message.encode().hex()}"
    if isinstance(f, Config):
        return f"CONFIG seq={f.seq} key={int(f.key)} value={f.value}"
    if isinstance(f, QemgSummary):
        return (f"QEMG_SUMMARY seq={f.seq} id={f.stretch_id} start={f.start} end={f.end} units={f.n_units} "
                f"rule={int(f.rule_pattern)} model={int(f.model_pattern)} amp={f.amplitude_uv} "
                f"dur={f.duration_tenth_ms} poly={f.polyphasic_hundredth_pct} rate={f.rate_hundredth_hz} "
                f"conf={round(f.model_confidence * 10000)}")
    raise FrameError(f"not a protocol frame: {f!r}")


def from_line(line: str) -> Frame:
    """Parse a line written by :func:`to_line` (or the C tool) back into a frame."""
    name, *tokens = line.split()
    v = dict(t.split("=", 1) for t in tokens)
    i = _Ints(v)
    seq = i["seq"]
    if name == "HELLO":
        uv = struct.unpack("<f", struct.pack("<I", int(v["uv"], 16)))[0]
        return Hello(bytes.fromhex(v["id"]).decode(), bytes.fromhex(v["fw"]).decode(), i["rate"],
                     i["width"], uv, i["ch"], i["pv"], seq)
    if name == "HELLO_REQ":
        return HelloRequest(i["pv"], seq)
    if name == "START":
        return Start(i["pv"], i["rate"], i["spf"], seq)
    if name == "STOP":
        return Stop(seq)
    if name == "SAMPLES":
        return Samples(i["first"], np.frombuffer(bytes.fromhex(v["data"]), "<i2").astype(np.int16), seq)
    if name == "ALERT":
        return Alert(i["id"], bytes.fromhex(v["label"]).decode(), i["conf"] / 10000, i["onset"],
                     i["offset"], i["sev"], seq)
    if name == "ACK":
        return Ack(i["ref_type"], i["ref_id"], seq)
    if name == "NACK":
        return Nack(i["ref_type"], i["ref_id"], i["reason"], seq)
    if name == "HEARTBEAT":
        return Heartbeat(i["up"], i["state"], i["next"], i["rx"], seq)
    if name == "ERROR":
        return Error(i["code"], bytes.fromhex(v["msg"]).decode(), seq)
    if name == "CONFIG":
        return Config(i["key"], i["value"], seq)
    if name == "QEMG_SUMMARY":
        return QemgSummary(i["id"], i["start"], i["end"], i["units"], i["rule"], i["model"], i["amp"], i["dur"],
                           i["poly"], i["rate"], i["conf"] / 10000, seq)
    raise FrameError(f"unknown frame name {name!r}")


def stats_line(s: DecoderStats) -> str:
    """The STATS line the C tool prints after decoding."""
    return (f"STATS frames={s.frames} crc={s.crc_errors} cobs={s.cobs_errors} length={s.length_errors} "
            f"version={s.version_errors} unknown={s.unknown_type} malformed={s.malformed} "
            f"oversize={s.oversize} dropped={s.dropped_bytes}")
