"""An independent second generator of labelled needle EMG, for EVALUATION ONLY.

It exists to check the kit's classifier on a generator it was not trained on. It is written
from the reference facts alone (``clinical-waveforms.md`` and ``real-emg.md`` of the project's
shared reference notes), with its own waveform models (line-source single-fibre potentials, MUAPs as
their sums, parametric positive sharp waves and end-plate potentials) and discharge models,
and it imports nothing from ``convert.simulator``, ``convert.chain``, ``convert.augment`` or
``convert.synth`` (a test checks this).

**Never train on it.** Once a model has seen its output it stops being an out-of-generator
check. Use it through ``benchmarks/altsim.py`` or :func:`convert.altsim.corpus.write_corpus`.

Modules: :mod:`~convert.altsim.shapes` (potential waveforms, µV), :mod:`~convert.altsim.firing`
(discharge trains, s / Hz), :mod:`~convert.altsim.classes` (one function per label),
:mod:`~convert.altsim.recording_chain` (band-pass, noise, hum, int16),
:mod:`~convert.altsim.corpus` (writes a data directory).
"""

from __future__ import annotations

#: Version of this generator; bump when any drawn distribution changes.
ALTSIM_VERSION = "1.0.0"
