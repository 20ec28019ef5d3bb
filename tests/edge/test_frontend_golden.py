"""Golden vectors: the output must match exactly (issue 2). Changing them = a new SPEC_VERSION."""

import json
import os

import numpy as np
import pytest

from edge.frontend import FEATURE_DTYPE, SPEC_VERSION, Frontend, FrontendConfig
from edge.frontend.pipeline import kernel_available
from tests.edge.golden.frontend_signals import CONFIGS, golden_signals
from tests.edge.golden.make_frontend_golden import digest, golden_path, table_digests

GOLDEN = json.loads(golden_path().read_text())


def test_golden_file_is_for_this_spec_version():
    assert GOLDEN["spec_version"] == SPEC_VERSION
    assert len(GOLDEN["vectors"]) == 8 * 5  # 8 signals at 8, 16, 22.05, 44.1, 48 kHz


@pytest.mark.parametrize("kernel", ["numpy", "c"])  # the spec path and the compiled kernel
@pytest.mark.parametrize("sr", sorted(CONFIGS))
def test_golden_vectors_match_exactly(sr, kernel):
    if kernel == "c" and not kernel_available():
        if os.environ.get("EMG_REQUIRE_EXTENSIONS") == "1":
            pytest.fail("edge.frontend._kernel did not build (EMG_REQUIRE_EXTENSIONS=1)")
        pytest.skip("edge.frontend._kernel not built")
    cfg = FrontendConfig(**CONFIGS[sr])
    assert GOLDEN["configs"][str(sr)] == cfg.to_dict()
    fe = Frontend(cfg, kernel=kernel)
    assert fe.kernel == kernel
    assert table_digests(fe) == GOLDEN["tables"][str(sr)]
    for name, pcm in golden_signals(sr).items():
        want = GOLDEN["vectors"][f"{sr}/{name}"]
        assert digest(pcm) == want["input_sha256"], f"test input {name} changed"
        fe.reset()
        f = fe.process(pcm)
        assert f.dtype == FEATURE_DTYPE
        assert list(f.shape) == want["shape"], name
        mid = f.shape[0] // 2
        assert [int(v) for v in f[mid, :8]] == want["frame_mid_first8"], name
        assert int(f.astype(np.int64).sum()) == want["sum"], name
        assert int(f.max()) == want["max"], name
        assert digest(f) == want["sha256"], name


def test_golden_values_are_plausible():
    """Guards against a golden file generated from a broken build."""
    v = GOLDEN["vectors"]
    for sr in CONFIGS:
        assert v[f"{sr}/silence"]["max"] == 0
        # full-scale 1 kHz sine: ~(32767·L/4)² in its band, i.e. 130-140 dB (×64 per dB)
        assert 125 * 64 < v[f"{sr}/sine_fullscale"]["max"] < 145 * 64
        # white noise: 40 dB between −60 and −20 dBFS shows up in the sums
        n60, n20 = v[f"{sr}/noise_-60dBFS"], v[f"{sr}/noise_-20dBFS"]
        frames_bands = n20["shape"][0] * n20["shape"][1]
        assert abs((n20["sum"] - n60["sum"]) / frames_bands / 64 - 40.0) < 0.5
