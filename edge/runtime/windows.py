"""Sliding feature windows from the streaming front-end.

The front-end emits frames (one row of ``n_mels`` integer features per hop); the model takes
``window_frames`` consecutive frames and a new window starts every ``hop_frames`` frames —
the bundle's ``window``/``hop``. :class:`WindowAssembler` keeps only the last
``window_frames - 1`` frames between calls, so memory is constant on endless streams.

Frame ``k`` (counted from the last :meth:`reset`) is window-aligned: window ``j`` holds frames
``j*hop_frames .. j*hop_frames + window_frames - 1``, exactly as the offline windowing of the
training side does on a whole recording.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np


class WindowAssembler:
    """Turn a stream of front-end frames into overlapping model windows.

    :meth:`push` takes ``(n, n_mels)`` frames and yields ``(first_frame, window)`` for every
    window completed by them; ``window`` is a fresh ``(window_frames, n_mels)`` array of the
    front-end dtype, ``first_frame`` the index of its first frame.
    """

    def __init__(self, window_frames: int, hop_frames: int, n_mels: int, dtype=np.int16) -> None:
        if window_frames < 1 or hop_frames < 1:
            raise ValueError(f"window_frames={window_frames} and hop_frames={hop_frames} must be >= 1")
        if n_mels < 1:
            raise ValueError(f"n_mels={n_mels} must be >= 1")
        self.window_frames = int(window_frames)
        self.hop_frames = int(hop_frames)
        self.n_mels = int(n_mels)
        self.dtype = np.dtype(dtype)
        self.reset()

    def reset(self) -> None:
        """Start a new stream: frame counting restarts at 0 and buffered frames are dropped."""
        self._tail = np.zeros((0, self.n_mels), dtype=self.dtype)
        self._tail_first = 0  # frame index of _tail[0]
        self._next_start = 0  # first frame of the next window
        self.frames_seen = 0

    def push(self, frames: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        frames = np.asarray(frames)
        if frames.size == 0:
            return
        if frames.ndim != 2 or frames.shape[1] != self.n_mels:
            raise ValueError(f"frames must have shape (n, {self.n_mels}), got {frames.shape}")
        buf = np.concatenate([self._tail, frames.astype(self.dtype, copy=False)], axis=0)
        first = self._tail_first
        self.frames_seen += frames.shape[0]
        end = first + buf.shape[0]  # one past the last frame held
        while self._next_start + self.window_frames <= end:
            a = self._next_start - first
            yield self._next_start, buf[a:a + self.window_frames].copy()
            self._next_start += self.hop_frames
        # Keep only frames a future window can still use.
        keep_from = min(self._next_start, end)
        self._tail = buf[keep_from - first:].copy()
        self._tail_first = keep_from
