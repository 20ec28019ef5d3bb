"""An independent second generator of labelled needle EMG.

It was written to check the kit's classifier on a generator it was not trained on, from
the reference facts alone (``clinical-waveforms.md`` and ``real-emg.md`` of the project's
shared reference notes), with its own waveform models (line-source single-fibre potentials, MUAPs as
their sums, parametric positive sharp waves and end-plate potentials) and discharge models,
and it imports nothing from ``convert.simulator``, ``convert.chain``, ``convert.augment`` or
``convert.synth`` (a test checks this).

**Written as an outside check, now also training data.** The default recipe trains on its clips
(:mod:`convert.second_generator`, corpus seed 100000): for a bundle built by the recipe it is a
seen generator, and its corpora of other seeds measure that, not generalisation. The kit's held-out
outside check is :mod:`convert.holdoutsim`, which nothing trains on. Use this package through
``benchmarks/altsim.py``, :func:`convert.altsim.corpus.write_corpus` or the training sets.

Modules: :mod:`~convert.altsim.shapes` (potential waveforms, µV), :mod:`~convert.altsim.firing`
(discharge trains, s / Hz), :mod:`~convert.altsim.classes` (one function per label),
:mod:`~convert.altsim.recording_chain` (band-pass, noise, hum, int16),
:mod:`~convert.altsim.corpus` (writes a data directory).
"""

from __future__ import annotations

#: Version of this generator; bump when any drawn distribution changes.
ALTSIM_VERSION = "1.0.0"
