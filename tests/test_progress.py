"""The progress line of long command-line steps (clikit.progress): on a terminal only, never
under pytest or in a pipe unless EMG_PROGRESS=1; used by feature extraction and evaluate."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clikit.progress import Progress, interactive, progress


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_under_pytest_and_in_pipes(monkeypatch):
    monkeypatch.delenv("EMG_PROGRESS", raising=False)
    assert not interactive(FakeTty())  # pytest sets PYTEST_CURRENT_TEST
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert interactive(FakeTty()) and not interactive(io.StringIO())
    monkeypatch.setenv("EMG_PROGRESS", "0")
    assert not interactive(FakeTty())
    monkeypatch.setenv("EMG_PROGRESS", "1")
    assert interactive(io.StringIO())


def test_disabled_writes_nothing():
    out = io.StringIO()
    assert list(progress([1, 2, 3], "features", stream=out, enabled=False)) == [1, 2, 3]
    assert out.getvalue() == ""


@settings(max_examples=30, deadline=None)
@given(total=st.integers(0, 40), unit=st.sampled_from(["", "recordings"]))
def test_one_line_redrawn_in_place_ending_at_the_total(total, unit):
    out = io.StringIO()
    assert list(progress(range(total), "features", unit, stream=out, enabled=True, min_interval_s=0.0)) \
        == list(range(total))
    text = out.getvalue()
    if total == 0:
        assert text == ""  # nothing was drawn, so no stray newline either
        return
    assert text.endswith("\n") and text.count("\n") == 1 and text.startswith("\r")
    last = text.rstrip().split("\r")[-1]
    assert last.startswith(f"features: {total}/{total}{' ' + unit if unit else ''} (100 %)")
    assert "left" not in last


def test_redraws_are_throttled_but_the_last_one_is_drawn():
    out = io.StringIO()
    with Progress("inference", 1000, "windows", stream=out, enabled=True, min_interval_s=3600.0) as bar:
        for _ in range(1000):
            bar.update()
    draws = out.getvalue().split("\r")[1:]
    assert len(draws) == 3  # the first update, the one reaching the total, and close()
    assert draws[0].startswith("inference: 1/1000 windows (0 %)") and "left" in draws[0]


def test_negative_total_is_refused():
    with pytest.raises(ValueError, match="total=-1"):
        Progress("x", -1)


def test_feature_extraction_reports_progress(monkeypatch, capsys):
    from convert.recording import Recording, Segment
    from convert.trainset import default_frontend_config, features, window_config

    monkeypatch.setenv("EMG_PROGRESS", "1")
    pcm = (np.sin(np.arange(44100 * 2) * 0.4) * 800).astype(np.int16)
    recs = [Recording(pcm=pcm, sample_rate=44100, uv_per_lsb=0.5, segments=[Segment(0.0, 2.0, "rest")])] * 2
    features(recs, default_frontend_config(44100), window_config(1.0, 0.5))
    err = capsys.readouterr().err
    assert "features: 2/2 recordings (100 %)" in err and err.endswith("\n")


def test_evaluate_reports_inference_progress(monkeypatch, capsys):
    from convert.evaluate import evaluate_windows
    from edge.bundle import load_bundle
    from tests.edge.bundle_helpers import synthetic_windows

    monkeypatch.setenv("EMG_PROGRESS", "1")
    bundle = load_bundle("default")
    X, y = synthetic_windows(1, bundle.n_classes, seed=1, frames=bundle.window_frames,
                             n_mels=bundle.frontend_config.n_mels)
    res = evaluate_windows(bundle, X, y, latency=False)
    assert res["windows"] == len(y)
    err = capsys.readouterr().err
    assert f"inference: {2 * len(y)}/{2 * len(y)} windows (int8 + float) (100 %)" in err
