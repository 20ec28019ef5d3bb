"""RIFF/WAVE chunk walking and the ``uv_per_lsb=`` comment, shared by the runtime and convert.

``convert.recordings.write_wav`` stores the scale of a recording's int16 samples as
``uv_per_lsb=0.5`` in a ``LIST/INFO/ICMT`` comment. :func:`read_uv_per_lsb` reads it back
for the runtime's :class:`firmware_bridge.host.source.WavSource` (which decodes audio with the
stdlib ``wave`` module) through a memory map, so a long file's audio is never copied;
``convert.recordings.read_wav`` walks the same chunks with :func:`riff_chunks`.
"""

from __future__ import annotations

import mmap
import re
import struct
from pathlib import Path

__all__ = ["WavFormatError", "riff_chunks", "sub_chunks", "info_text", "parse_uv_per_lsb", "read_uv_per_lsb"]

#: The scale in a WAV comment, e.g. ``emg-edge-kit uv_per_lsb=0.5``.
UV_PER_LSB_RE = re.compile(r"uv_per_lsb=([0-9.eE+-]+)")


class WavFormatError(ValueError):
    """Not a (little-endian) RIFF/WAVE file; the message names the file."""


def riff_chunks(data, path):
    """Yield ``(id bytes, declared size, body, offset)`` of each top-level chunk of ``data``.

    ``data`` is bytes or a memoryview (bodies are slices of it, so a memoryview of a memory
    map copies nothing); a truncated last chunk's body is shorter than its declared size.
    """
    if len(data) < 12 or bytes(data[:4]) not in (b"RIFF", b"RIFX") or bytes(data[8:12]) != b"WAVE":
        raise WavFormatError(f"{path}: not a WAV file (no RIFF/WAVE header)")
    if bytes(data[:4]) == b"RIFX":
        raise WavFormatError(f"{path}: big-endian WAV (RIFX) is not supported; re-export as standard WAV")
    pos = 12
    while pos + 8 <= len(data):
        cid, size = bytes(data[pos:pos + 4]), struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        yield cid, size, body, pos
        pos += 8 + size + (size & 1)  # chunks are word-aligned


def sub_chunks(data: bytes):
    """Yield ``(id, size, body, offset)`` of the sub-chunks of a LIST body (after its type)."""
    pos = 0
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        yield cid, size, data[pos + 8:pos + 8 + size], pos
        pos += 8 + size + (size & 1)


def info_text(list_body: bytes) -> str:
    """Text of a ``LIST`` chunk of type ``INFO``: each sub-chunk up to its NUL, latin-1, plus a space."""
    text = ""
    for _, _, sub, _ in sub_chunks(bytes(list_body[4:])):
        text += sub.split(b"\0", 1)[0].decode("latin-1") + " "
    return text


def parse_uv_per_lsb(comment: str) -> float | None:
    """The ``uv_per_lsb=`` value in ``comment`` (ValueError if it is not a number), else None."""
    m = UV_PER_LSB_RE.search(comment)
    return float(m.group(1)) if m else None


def read_uv_per_lsb(path: str | Path) -> float | None:
    """µV per LSB recorded in a WAV file's ``LIST/INFO`` comment, or None when it has none.

    Raises :class:`WavFormatError` for a file that is not RIFF/WAVE and ValueError for a
    ``uv_per_lsb=`` that is not a number.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        if path.stat().st_size < 12:
            raise WavFormatError(f"{path}: not a WAV file (no RIFF/WAVE header)")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            view = memoryview(mm)
            try:
                comment = ""
                for cid, _, body, _ in riff_chunks(view, path):
                    if cid == b"LIST" and bytes(body[:4]) == b"INFO":
                        comment += info_text(body)
                    del body
            finally:
                view.release()
    try:
        return parse_uv_per_lsb(comment)
    except ValueError:
        raise ValueError(f"{path}: the WAV comment's uv_per_lsb is not a number ({comment.strip()!r})") from None
