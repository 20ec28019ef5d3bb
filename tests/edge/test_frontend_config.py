"""FrontendConfig validation and bad input (issue 2, item 5): errors name the value and the range."""

import numpy as np
import pytest

from edge.frontend import Frontend, FrontendConfig, to_db
from edge.frontend.config import max_mels


def test_issue_config_sizes_and_dict_round_trip():
    cfg = FrontendConfig(sample_rate=44100, window_ms=25.0, hop_ms=10.0, n_mels=64, fmin_hz=20.0, fmax_hz=10000.0)
    assert (cfg.frame_length, cfg.hop_length, cfg.fft_size) == (1103, 441, 2048)  # 1102.5 rounds up
    assert FrontendConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg == FrontendConfig()
    with pytest.raises(Exception):
        cfg.n_mels = 10  # frozen


@pytest.mark.parametrize("kwargs, words", [
    (dict(sample_rate=44100, fmax_hz=30000.0), ["fmax_hz=30000", "22050"]),
    (dict(sample_rate=16000, fmin_hz=4000.0, fmax_hz=4000.0), ["fmin_hz=4000", "fmax_hz=4000"]),
    (dict(sample_rate=16000, fmin_hz=5000.0, fmax_hz=3000.0), ["fmin_hz=5000", "fmax_hz=3000"]),
    (dict(sample_rate=8000, n_mels=64, fmax_hz=4000.0), ["n_mels=64", "fft_size=256", "1..43"]),
    (dict(sample_rate=8000, window_ms=5.0, n_mels=4, fmax_hz=4000.0), ["window_ms=5.0", "40 samples", "64..16384"]),
    (dict(sample_rate=4000), ["sample_rate=4000", "8000..48000"]),
    (dict(sample_rate=96000), ["sample_rate=96000", "8000..48000"]),
    (dict(n_mels=0), ["n_mels=0", "≥ 1"]),
    (dict(hop_ms=0.0), ["hop_ms=0.0", "≥ 1 sample"]),
    (dict(window_ms=float("nan")), ["window_ms=nan", "finite"]),
    (dict(fmin_hz=-5.0), ["fmin_hz=-5.0", "0 ≤ fmin_hz"]),
    (dict(sample_rate=44100.5), ["sample_rate=44100.5", "integer"]),
])
def test_impossible_configs_name_value_and_range(kwargs, words):
    with pytest.raises(ValueError) as ei:
        FrontendConfig(**kwargs)
    msg = str(ei.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


def test_n_mels_limit_is_the_one_bin_rule():
    n = max_mels(8000, 256, 20.0, 4000.0)
    FrontendConfig(sample_rate=8000, n_mels=n, fmax_hz=4000.0)
    with pytest.raises(ValueError):
        FrontendConfig(sample_rate=8000, n_mels=n + 1, fmax_hz=4000.0)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown front-end config keys \\['nmels'\\]"):
        FrontendConfig.from_dict({"nmels": 64})


@pytest.mark.parametrize("bad, words", [
    (np.zeros(1000, dtype=np.float32), ["float32", "int16"]),
    (np.zeros(1000, dtype=np.float64), ["float64", "int16"]),
    (np.zeros(1000, dtype=np.int32), ["int32", "int16"]),
    (np.zeros((1000, 2), dtype=np.int16), ["(1000, 2)", "(n_samples,)"]),
    ([0] * 1000, ["list", "int16"]),
])
def test_bad_pcm_is_rejected_with_the_reason(bad, words):
    fe = Frontend(FrontendConfig())
    with pytest.raises(ValueError) as ei:
        fe.process(bad)
    for w in words:
        assert w in str(ei.value), (w, str(ei.value))


def test_empty_input_returns_zero_frames():
    cfg = FrontendConfig()
    out = Frontend(cfg).process(np.zeros(0, dtype=np.int16))
    assert out.shape == (0, 64)
    assert to_db(out, cfg).shape == (0, 64)


def test_to_db_is_affine_with_documented_lsb():
    cfg = FrontendConfig()
    np.testing.assert_array_equal(to_db(np.array([[0, 64, 6400]], dtype=np.int16), cfg), [[0.0, 1.0, 100.0]])
