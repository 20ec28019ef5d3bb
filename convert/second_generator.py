"""The second generator's clips as labelled training recordings.

:mod:`convert.altsim` (written independently of :mod:`convert.simulator`, with its own waveform,
firing and recording-chain models) writes data directories for evaluation; training takes its
clips directly, as :class:`convert.recording.Recording` objects labelled exactly as those
directories label them (segments clipped to the clip, and point events). Two generators'
waveforms for every class teach the model what the classes share rather than one simulator's
shapes (measured on the held-out third generator, :mod:`convert.holdoutsim`: README,
"On a held-out generator"). Never :mod:`convert.holdoutsim`: that one stays unseen.
"""

from __future__ import annotations

from convert.recording import Recording, Segment


def altsim_recordings(clips_per_class: int, clip_s: float, seed: int) -> list[Recording]:
    """``clips_per_class`` clips of every class (3× voluntary) of ``clip_s`` s from
    :mod:`convert.altsim`'s corpus ``seed``, as its own chain records them (44.1 kHz, 0.8 µV/LSB).
    Names ``altsim<seed>_<label>_<i>``; ``meta["events"]`` the point labels. ``clips_per_class``
    0 gives none."""
    from convert.altsim import ALTSIM_VERSION
    from convert.altsim.corpus import CorpusConfig, clip_labels, draw_clip

    if not clips_per_class:
        return []
    cfg = CorpusConfig(clips_per_class=clips_per_class, clip_s=clip_s, seed=seed)
    recs = []
    for label in cfg.labels:
        for i in range(cfg.count(label)):
            clip, pcm, _ = draw_clip(label, i, cfg)
            spans, points = clip_labels(clip, cfg.clip_s)
            segs = [Segment(a, b, lab) for a, b, lab in spans if b > a]
            events = sorted((float(t), lab) for t, lab in points)
            recs.append(Recording(pcm, cfg.chain.sample_rate_hz, cfg.chain.uv_per_lsb, segs,
                                  name=f"altsim{seed}_{label}_{i:03d}",
                                  meta={"events": events, "generator": f"convert.altsim {ALTSIM_VERSION}"}))
    return recs


def validation_clips(train_clips: int) -> int:
    """Clips per class of the second generator in validation beside ``train_clips`` in
    training: a fifth, at least 1 when any are trained on."""
    return max(train_clips // 5, 1) if train_clips else 0
