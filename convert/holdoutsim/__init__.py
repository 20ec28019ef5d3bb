"""Held-out outside check: a third, independent generator of labelled needle EMG.

This package is the kit's **held-out outside check**. It was written from the reference facts
alone (``clinical-waveforms.md`` and ``real-emg.md`` of the shared reference notes), without
reading or importing any other generator in the kit, and with modelling choices of its own:

* potentials are sums of Hermite–Rodrigues basis functions (orders 0–2, random mixing, widths
  and lags) rather than a line-source single-fibre model (:mod:`.shapes`);
* positive sharp waves are a fast positive step with a slow, exponential-like negative return;
  end-plate potentials are short monophasic negative transients (:mod:`.shapes`);
* discharge trains are gamma-interval renewal processes, time-rescaled for changing rates
  (:mod:`.firing`);
* each class's clip is drawn in :mod:`.classes`, passed through a recording chain of its own
  (:mod:`.acquisition`) and written as a data directory (:mod:`.corpus`).

It must **never be trained on or tuned against**: its value is that no model in the kit has seen
it. Do not add its clips to a training set, do not pick hyper-parameters or thresholds by its
scores, and do not change its draws to make a bundle score better or worse.

Units: amplitudes in µV (peak-to-peak unless stated), durations in ms, rates in Hz, times in s.
Imports: the standard library, numpy, scipy, this package, :mod:`convert.taxonomy` (label names)
and :mod:`convert.recordings` (the kit's WAV writer) only.
"""

from __future__ import annotations

#: Generator version; bump when any draw changes (a corpus is identified by version + seed).
VERSION = "1.0.0"

from convert.holdoutsim.corpus import CorpusConfig, clip_counts, write_corpus  # noqa: E402

__all__ = ["VERSION", "CorpusConfig", "clip_counts", "write_corpus"]
