"""The wire codec, shared by the host and the simulated unit: frames, framing, COBS, CRC.

Pure functions and data (no I/O, no threads); imports nothing from
:mod:`firmware_bridge.host` or :mod:`firmware_bridge.sim`. Specification:
``firmware_bridge/PROTOCOL.md``; the C implementation for firmware is ``firmware_bridge/c/``.

* :mod:`~firmware_bridge.codec.frames`: constants, enums and the frame dataclasses;
* :mod:`~firmware_bridge.codec.framing`: :func:`encode`, :func:`decode_frame`, :class:`Decoder`;
* :mod:`~firmware_bridge.codec.cobs`, :mod:`~firmware_bridge.codec.crc`: the byte-level layers;
* :mod:`~firmware_bridge.codec.frametext`: the one-line text form the C tool prints.
"""

from firmware_bridge.codec.frames import (
    CRC_SIZE, FRAME_CLASSES, HEADER_SIZE, MAX_ENCODED, MAX_FRAME, MAX_PAYLOAD, MAX_SAMPLES, PROTOCOL_VERSION,
    Ack, Alert, Config, ConfigKey, Error, ErrorCode, Frame, FrameError, FrameType, Heartbeat, Hello,
    HelloRequest, Nack, QemgPattern, QemgSummary, Samples, Start, Stop, StreamState,
)
from firmware_bridge.codec.framing import Decoder, DecoderStats, decode_frame, encode

__all__ = [
    "PROTOCOL_VERSION", "MAX_PAYLOAD", "HEADER_SIZE", "CRC_SIZE", "MAX_FRAME", "MAX_ENCODED",
    "MAX_SAMPLES", "FrameType", "ErrorCode", "ConfigKey", "StreamState", "QemgPattern",
    "Frame", "Hello", "HelloRequest", "Start", "Stop", "Samples", "Alert", "Ack", "Nack",
    "Heartbeat", "Error", "Config", "QemgSummary", "FRAME_CLASSES",
    "encode", "decode_frame", "FrameError", "Decoder", "DecoderStats",
]
