"""Slice labelled recordings into model windows of exact integer front-end features.

Features
--------
The recording is first re-expressed at the model's scale (``uv_per_lsb``, µV per LSB, default
0.5: the bundle's ``input.uv_per_lsb``) from its own ``rec.uv_per_lsb`` with
:func:`edge.calibration.rescale_pcm`, the integer rule the runtime applies to every source.
The whole recording is then resampled once to the front-end rate (:mod:`edge.resample`, the same
resampler the device uses) and run once through :class:`edge.frontend.Frontend`, the integer
front-end the device runs. Window ``j`` is front-end frames ``j*hop_frames ..
j*hop_frames + window_frames - 1``, the same slicing as the runtime's
``edge.runtime.windows.WindowAssembler``, with::

    window_frames = round(window_s * sample_rate / hop_length)
    hop_frames    = round(hop_s    * sample_rate / hop_length)

Frame ``f`` sees samples ``f*hop_length .. f*hop_length + frame_length - 1``, so window ``j``
spans ``[j*hop_frames*hop_length, ((j*hop_frames + window_frames - 1)*hop_length +
frame_length))`` samples; its label is decided on exactly that span (in seconds).

Label rule (what the model learns and how the scorecard counts)
---------------------------------------------------------------
For a window ``[a, b)`` (seconds), each class's *coverage* is the fraction of the window its
segments cover (a class's own overlapping segments count once).
``rest`` is the time no non-sparse normal segment covers, since pathological episodes are
labelled over their background.
*Events* are ``rec.meta["events"]`` (``(t_s, label)``, simulator ground truth or Audacity point
labels); an event counts for a window when ``a + edge_margin_s <= t <= b - edge_margin_s`` (a
potential cut by the window edge is not evidence). A class "has events" when the recording
lists at least one event of it.

1. A **dense pathological** class (not in ``sparse_labels``) is *present* when its coverage is
   at least ``min_cover`` and, if it has events and ``dense_needs_event``, at least one of its
   events counts for the window (a stretch of a 0.5 Hz fibrillation episode can hold no
   potential; calling it fibrillation would teach the model to hallucinate).
2. A **sparse** class (default ``fasciculation`` and ``endplate_spike``: single, irregular
   potentials, a fasciculation may come once in tens of seconds) is *present* when one of its
   events counts for the window; without events, when one of its segments reaches into
   ``[a + edge_margin_s, b - edge_margin_s]``.
3. If any pathological class is present, the window takes the present pathological class with
   the largest coverage (ties: lower class index). Pathological always wins over normal:
   missing a pathology costs more than a false alarm.
4. Otherwise, if ``endplate_spike`` (sparse, normal) is present, the window is
   ``endplate_spike``: it is the normal mimic of fibrillation, so the model must see it.
5. Otherwise the normal class with the largest coverage (ties: lower index, ``rest`` first).

A window is **ambiguous** when it holds some of a pathology without that class being present:
0 < coverage < ``min_cover`` (for a class with events: with one of its events in the window),
or its only events lie in the edge margin. Such a window is neither a fair positive nor a fair
negative, so by default (``drop_ambiguous=True``) :func:`window_recording` leaves it out of
training and window-level scoring; :func:`windows_of` returns every window with the flag. A
stretch of an episode with no potential of the class in it is *not* ambiguous: it is labelled
by its background (rule 5), which is what it shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from convert.recording import Recording
from convert.taxonomy import LABEL_INDEX, LABELS, NORMAL, PATHOLOGICAL, REST


@dataclass(frozen=True)
class WindowConfig:
    """How recordings become labelled windows. Times in seconds; see the module docstring.

    window_s: window length, 0.05–30 s (default 1.0).
    hop_s: step between window starts, 0 < hop_s <= window_s (default 0.25).
    min_cover: fraction of the window a dense pathological class must cover, 0 < x <= 1.
    sparse_labels: classes decided by events in the window rather than coverage.
    edge_margin_s: events closer than this to a window edge do not count, 0 <= x < window_s/2.
    dense_needs_event: a dense class with events must also have one in the window.
    drop_ambiguous: leave ambiguous windows out of :func:`window_recording`'s output (default).
    """

    window_s: float = 1.0
    hop_s: float = 0.25
    min_cover: float = 0.25
    sparse_labels: tuple[str, ...] = ("fasciculation", "endplate_spike")
    edge_margin_s: float = 0.01
    dense_needs_event: bool = True
    drop_ambiguous: bool = True

    def __post_init__(self) -> None:
        if not (0.05 <= self.window_s <= 30.0):
            raise ValueError(f"window_s = {self.window_s}: allowed range is 0.05..30 s")
        if not (0 < self.hop_s <= self.window_s):
            raise ValueError(f"hop_s = {self.hop_s}: allowed range is 0 < hop_s <= window_s ({self.window_s} s)")
        if not (0 < self.min_cover <= 1):
            raise ValueError(f"min_cover = {self.min_cover}: allowed range is 0 < min_cover <= 1")
        if not (0 <= self.edge_margin_s < self.window_s / 2):
            raise ValueError(f"edge_margin_s = {self.edge_margin_s}: allowed range is 0 <= x < window_s/2")
        object.__setattr__(self, "sparse_labels", tuple(self.sparse_labels))
        for label in self.sparse_labels:
            if label not in LABEL_INDEX:
                raise ValueError(f"sparse_labels: unknown label {label!r}; use labels from {', '.join(LABELS)}")

    def frames(self, frontend_cfg) -> tuple[int, int]:
        """``(window_frames, hop_frames)`` for a front-end config (both >= 1)."""
        per_s = frontend_cfg.sample_rate / frontend_cfg.hop_length  # frames per second
        wf = max(1, int(round(self.window_s * per_s)))
        hf = max(1, int(round(self.hop_s * per_s)))
        return wf, min(hf, wf)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sparse_labels"] = list(self.sparse_labels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "WindowConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "sparse_labels" in known:
            known["sparse_labels"] = tuple(known["sparse_labels"])
        return cls(**known)


@dataclass
class Windows:
    """Windows of one recording. ``X`` (n, window_frames, n_mels) front-end integers; ``y`` (n,)
    class indices; ``start_s``/``end_s`` the span each window's features saw, in seconds;
    ``ambiguous`` (n,) bool (see the module docstring)."""

    X: np.ndarray
    y: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    ambiguous: np.ndarray
    meta: dict = field(default_factory=dict)


def window_spans(n_frames: int, frontend_cfg, wcfg: WindowConfig) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (s) of every complete window over ``n_frames`` front-end frames."""
    wf, hf = wcfg.frames(frontend_cfg)
    n = 0 if n_frames < wf else (n_frames - wf) // hf + 1
    first = np.arange(n, dtype=np.int64) * hf
    rate = float(frontend_cfg.sample_rate)
    start = first * frontend_cfg.hop_length / rate
    end = ((first + wf - 1) * frontend_cfg.hop_length + frontend_cfg.frame_length) / rate
    return start, end


def _coverage(spans: list[tuple[float, float]], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fraction of each window [a, b) covered by the union of ``spans``."""
    cov = np.zeros(len(a))
    for s, e in _union(spans):
        cov += np.clip(np.minimum(e, b) - np.maximum(s, a), 0.0, None)
    return cov / np.maximum(b - a, 1e-12)


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _events_in(times: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Count of sorted ``times`` within [lo, hi] per window."""
    return np.searchsorted(times, hi, side="right") - np.searchsorted(times, lo, side="left")


def _spans(rec: Recording) -> dict[str, list[tuple[float, float]]]:
    """Each label's segments of ``rec`` as (start_s, end_s) spans."""
    spans: dict[str, list[tuple[float, float]]] = {label: [] for label in LABELS}
    for seg in rec.segments:
        spans[seg.label].append((seg.start_s, seg.end_s))
    return spans


def _class_cover(spans: dict[str, list[tuple[float, float]]], a: np.ndarray, b: np.ndarray,
                 sparse_labels: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Each class's coverage of the windows ``[a, b)`` (fraction 0–1), as the label rule counts it."""
    cover = {label: _coverage(spans[label], a, b) for label in LABELS if label != "rest"}
    # rest = background not claimed by a normal segment; a sparse class's segment is the time
    # its events may occur in, not a background of its own.
    background = [sp for label in NORMAL if label != "rest" and label not in sparse_labels
                  for sp in spans[label]]
    cover["rest"] = np.clip(1.0 - _coverage(background, a, b), 0.0, 1.0)
    return cover


def label_windows(rec: Recording, start_s: np.ndarray, end_s: np.ndarray,
                  wcfg: WindowConfig) -> tuple[np.ndarray, np.ndarray]:
    """Apply the label rule to windows ``[start_s, end_s)``; return ``(y, ambiguous)``.

    ``y`` is int64 class indices (taxonomy order), ``ambiguous`` bool.
    """
    a = np.asarray(start_s, dtype=np.float64)
    b = np.asarray(end_s, dtype=np.float64)
    n = len(a)
    lo, hi = a + wcfg.edge_margin_s, b - wcfg.edge_margin_s
    spans = _spans(rec)
    cover = _class_cover(spans, a, b, wcfg.sparse_labels)

    events: dict[str, list[float]] = {}
    for t, label in rec.meta.get("events", ()) or ():
        events.setdefault(str(label), []).append(float(t))
    ev = {label: np.sort(np.asarray(ts)) for label, ts in events.items()}

    present = {}
    ambiguous = np.zeros(n, dtype=bool)
    for label in PATHOLOGICAL + ("endplate_spike",):
        if label in wcfg.sparse_labels:
            if label in ev:
                inside = _events_in(ev[label], lo, hi) > 0
                touching = _events_in(ev[label], a, b) > 0
            else:
                inside = _coverage(spans[label], lo, np.maximum(hi, lo)) > 0 if spans[label] else np.zeros(n, bool)
                touching = cover[label] > 0
        else:
            inside = cover[label] >= wcfg.min_cover
            touching = cover[label] > 0
            if label in ev and wcfg.dense_needs_event:
                inside &= _events_in(ev[label], lo, hi) > 0
                touching &= _events_in(ev[label], a, b) > 0  # no potential here: truly background
        present[label] = inside
        if label in PATHOLOGICAL:
            ambiguous |= touching & ~inside

    y = np.full(n, REST, dtype=np.int64)
    best = np.full(n, -1.0)
    any_path = np.zeros(n, dtype=bool)
    for label in PATHOLOGICAL:  # in index order, so ties keep the lower index
        score = np.where(present[label], cover[label], -1.0)
        take = present[label] & (score > best)
        y[take], best[take] = LABEL_INDEX[label], score[take]
        any_path |= present[label]
    eps = ~any_path & present["endplate_spike"]
    y[eps] = LABEL_INDEX["endplate_spike"]
    rest_of = ~any_path & ~eps
    best = np.full(n, -1.0)
    for label in NORMAL:
        if label in wcfg.sparse_labels:
            continue  # decided by its events above
        take = rest_of & (cover[label] > best)
        y[take], best[take] = LABEL_INDEX[label], cover[label][take]
    # Ambiguity only matters where no pathology was called.
    return y, ambiguous & ~any_path


def label_coverage(rec: Recording, start_s: np.ndarray, end_s: np.ndarray, y: np.ndarray,
                   wcfg: WindowConfig | None = None) -> np.ndarray:
    """Fraction (0–1) of each window ``[start_s, end_s)`` covered by its own label ``y`` (class
    indices), as :func:`label_windows` counts coverage. A pathological window can be labelled
    from 25 % cover (``min_cover``): this tells such edge windows from windows inside an
    episode, so a score can be split by them (``emg-convert evaluate``)."""
    a = np.asarray(start_s, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    cover = _class_cover(_spans(rec), a, np.asarray(end_s, dtype=np.float64), (wcfg or WindowConfig()).sparse_labels)
    out = np.zeros(len(a))
    for k in np.unique(y):
        out[y == k] = cover[LABELS[k]][y == k]
    return out


def slice_windows(frames: np.ndarray, window_frames: int, hop_frames: int) -> np.ndarray:
    """(n_frames, n_mels) → (n_windows, window_frames, n_mels) copies, same dtype."""
    frames = np.asarray(frames)
    if len(frames) < window_frames:
        return np.zeros((0, window_frames, frames.shape[1]), dtype=frames.dtype)
    view = np.lib.stride_tricks.sliding_window_view(frames, window_frames, axis=0)[::hop_frames]
    return np.ascontiguousarray(view.transpose(0, 2, 1))


#: µV per LSB features are computed at unless told otherwise (the simulator amplifier's scale,
#: and what bundles without ``input.uv_per_lsb`` were trained at).
DEFAULT_UV_PER_LSB = 0.5


def recording_frames(rec: Recording, frontend_cfg, cache=None, uv_per_lsb: float = DEFAULT_UV_PER_LSB) -> np.ndarray:
    """All front-end frames of ``rec`` at ``frontend_cfg.sample_rate`` (resampled if needed),
    computed on its samples re-expressed at ``uv_per_lsb`` µV per LSB.

    With ``cache`` (a :class:`convert.featcache.FeatureCache`) the frames are loaded or stored.
    """
    if cache is not None:
        return cache.frames(rec, frontend_cfg, uv_per_lsb=uv_per_lsb)
    return compute_frames(rec.pcm, rec.sample_rate, frontend_cfg, rec.uv_per_lsb, uv_per_lsb)


def compute_frames(pcm: np.ndarray, sample_rate: int, frontend_cfg, source_uv_per_lsb: float | None = None,
                   target_uv_per_lsb: float = DEFAULT_UV_PER_LSB) -> np.ndarray:
    """Resample int16 ``pcm`` from ``sample_rate`` Hz to the front-end rate and run the front-end.

    With ``source_uv_per_lsb`` (µV/LSB of ``pcm``) the samples are first re-expressed at
    ``target_uv_per_lsb`` (:func:`edge.calibration.rescale_pcm`); without it they are used as is.
    """
    from edge.calibration import rescale_pcm
    from edge.frontend import Frontend
    from edge.resample import resample

    if source_uv_per_lsb is not None:
        pcm, _ = rescale_pcm(np.asarray(pcm, dtype=np.int16), source_uv_per_lsb, target_uv_per_lsb)
    if int(sample_rate) != int(frontend_cfg.sample_rate):
        pcm = resample(np.asarray(pcm, dtype=np.int16), int(sample_rate), int(frontend_cfg.sample_rate))
    return Frontend(frontend_cfg).process(np.asarray(pcm, dtype=np.int16))


def windows_of(rec: Recording, frontend_cfg, wcfg: WindowConfig | None = None, cache=None,
               uv_per_lsb: float = DEFAULT_UV_PER_LSB) -> Windows:
    """Every window of ``rec`` with features, labels, spans and ambiguity (nothing dropped).

    ``uv_per_lsb``: the scale (µV per LSB) the features are computed at: the bundle's.
    """
    wcfg = wcfg or WindowConfig()
    frames = recording_frames(rec, frontend_cfg, cache, uv_per_lsb=uv_per_lsb)
    wf, hf = wcfg.frames(frontend_cfg)
    X = slice_windows(frames, wf, hf)
    start, end = window_spans(len(frames), frontend_cfg, wcfg)
    y, amb = label_windows(rec, start, end, wcfg)
    return Windows(X, y, start, end, amb, {"recording": rec.name, "window_frames": wf, "hop_frames": hf})


def window_recording(rec: Recording, frontend_cfg, wcfg: WindowConfig | None = None,
                     cache=None, uv_per_lsb: float = DEFAULT_UV_PER_LSB) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n, window_frames, n_mels) front-end dtype and ``y`` (n,) int64 class indices,
    features at ``uv_per_lsb`` µV per LSB.

    Ambiguous windows are left out when ``wcfg.drop_ambiguous``.
    """
    w = windows_of(rec, frontend_cfg, wcfg, cache, uv_per_lsb=uv_per_lsb)
    if (wcfg or WindowConfig()).drop_ambiguous:
        keep = ~w.ambiguous
        return w.X[keep], w.y[keep]
    return w.X, w.y
