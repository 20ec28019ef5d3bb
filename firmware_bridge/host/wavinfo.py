"""RIFF/WAVE chunk walking and the ``uv_per_lsb=`` comment, under the kit's one WAV decoder.

``convert.recordings.write_wav`` stores the scale of a recording's int16 samples as
``uv_per_lsb=0.5`` in a ``LIST/INFO/ICMT`` comment (scipy's WAV reader skips such chunks).
:func:`read_wav_layout` finds the ``fmt`` and ``data`` chunks and that comment, and refuses a
file whose chunks claim more bytes than it holds (a truncated copy or a lying header) in one
line; :class:`firmware_bridge.host.wavfile.WavFile` builds on it for the runtime's
``WavSource`` and for ``convert.recordings``. :func:`comment_uv_per_lsb` reads the scale.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WavFormatError", "WavLayout", "riff_chunks", "sub_chunks", "info_text", "parse_uv_per_lsb",
           "comment_uv_per_lsb", "read_uv_per_lsb", "read_wav_layout"]

#: WAVE format tags: integer PCM and WAVE_FORMAT_EXTENSIBLE (whose sub-format then decides).
WAVE_PCM, WAVE_EXTENSIBLE = 1, 0xFFFE

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


@dataclass(frozen=True)
class WavLayout:
    """A WAV file's encoding (from its ``fmt`` chunk) and where its audio lies.

    ``format_tag`` is the effective tag (an EXTENSIBLE file's sub-format), ``sample_rate`` in
    Hz, ``bits`` per sample, ``block_align`` bytes per frame (all channels of one instant);
    ``data_offset`` is the byte offset of the first audio byte and ``data_bytes`` the data
    chunk's size, both within the file; ``comment`` the ``LIST/INFO`` text.
    """

    format_tag: int
    channels: int
    sample_rate: int
    block_align: int
    bits: int
    data_offset: int
    data_bytes: int
    comment: str = ""

    @property
    def n_frames(self) -> int:
        """Whole frames (time steps) in the data chunk."""
        return self.data_bytes // self.block_align if self.block_align else 0


def _scan(path: Path):
    """``(comment, fmt body or None, (data offset, declared, present) or None)`` of ``path``.

    A chunk whose declared size runs past the end of the file raises :class:`WavFormatError`
    naming the shortfall when it is ``fmt`` or ``data`` (the rest is only read for its text).
    """
    with open(path, "rb") as fh:
        if path.stat().st_size < 12:
            raise WavFormatError(f"{path}: not a WAV file (no RIFF/WAVE header)")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            view = memoryview(mm)
            chunks = riff_chunks(view, path)
            try:
                comment, fmt, data, short = "", None, None, None
                for cid, size, body, pos in chunks:
                    if cid in (b"fmt ", b"data") and len(body) < size:
                        short = (cid.decode().strip(), size, len(body))
                    elif cid == b"fmt " and fmt is None:
                        fmt = bytes(body)
                    elif cid == b"data" and data is None:
                        data = (pos + 8, size, len(body))
                    elif cid == b"LIST" and bytes(body[:4]) == b"INFO":
                        comment += info_text(body)
                    del body  # the map cannot close while a slice of it lives
                    if short:
                        break
            finally:
                chunks.close()
                view.release()
    if short:
        what, size, have = short
        raise WavFormatError(f"{path}: truncated: the {what} chunk declares {size} bytes but only {have} are in the "
                             f"file ({size - have} missing)")
    return comment, fmt, data


def read_uv_per_lsb(path: str | Path) -> float | None:
    """µV per LSB recorded in a WAV file's ``LIST/INFO`` comment, or None when it has none.

    Raises :class:`WavFormatError` for a file that is not RIFF/WAVE (or whose fmt or data chunk
    is truncated) and ValueError for a ``uv_per_lsb=`` that is not a number.
    """
    path = Path(path)
    return comment_uv_per_lsb(path, _scan(path)[0])


def comment_uv_per_lsb(path: Path, comment: str) -> float | None:
    """The ``uv_per_lsb=`` of ``path``'s comment text, or None; :class:`WavFormatError` naming the
    file when it is not a positive, finite number of µV/LSB."""
    try:
        uv = parse_uv_per_lsb(comment)
    except ValueError:
        raise WavFormatError(f"{path}: the WAV comment's uv_per_lsb is not a number ({comment.strip()!r})") from None
    if uv is not None and not (math.isfinite(uv) and uv > 0):
        raise WavFormatError(f"{path}: the WAV comment's uv_per_lsb={uv!r} must be > 0 µV/LSB")
    return uv


def read_wav_layout(path: str | Path) -> WavLayout:
    """The :class:`WavLayout` of ``path``; :class:`WavFormatError` (one line, naming the file)
    when it is not RIFF/WAVE, has no ``fmt`` or ``data`` chunk, or either is truncated."""
    path = Path(path)
    comment, fmt, data = _scan(path)
    if fmt is None or len(fmt) < 16:
        raise WavFormatError(f"{path}: no usable fmt chunk ({'none' if fmt is None else f'{len(fmt)} of 16 bytes'})")
    if data is None:
        raise WavFormatError(f"{path}: no data chunk (truncated WAV file?)")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == WAVE_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # first two bytes of the SubFormat GUID
    return WavLayout(tag, channels, rate, block_align, bits, data[0], data[1], comment)
