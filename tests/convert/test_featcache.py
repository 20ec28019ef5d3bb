"""convert.featcache: hits return identical frames; keys change with config, spec, source; safe writes."""

import multiprocessing as mp

import numpy as np
import pytest

from convert.featcache import FeatureCache, cache_key
from convert.recording import Recording
from convert.windowing import WindowConfig, compute_frames, window_recording


def _fcfg(**kw):
    from edge.frontend import FrontendConfig
    args = dict(sample_rate=16000, window_ms=25.0, hop_ms=10.0, n_mels=32, fmin_hz=20.0, fmax_hz=7000.0)
    args.update(kw)
    return FrontendConfig(**args)


def _rec(seed=0, rate=16000, seconds=1.5):
    pcm = np.random.default_rng(seed).normal(0, 600, int(rate * seconds)).astype(np.int16)
    return Recording(pcm, rate, 0.5, [], f"r{seed}")


def test_miss_then_hit_gives_identical_frames(tmp_path):
    cache = FeatureCache(tmp_path / "c")
    rec, fcfg = _rec(), _fcfg()
    first = cache.frames(rec, fcfg)
    second = cache.frames(rec, fcfg)
    assert (cache.misses, cache.hits) == (1, 1)
    assert np.array_equal(first, second) and first.dtype == second.dtype
    assert np.array_equal(first, compute_frames(rec.pcm, rec.sample_rate, fcfg))
    X1, y1 = window_recording(rec, fcfg, WindowConfig(hop_s=0.1), cache=cache)
    X2, y2 = window_recording(rec, fcfg, WindowConfig(hop_s=0.1))
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)


def test_key_depends_on_config_source_rate_and_spec(monkeypatch):
    rec = _rec()
    base = cache_key(rec.pcm, 16000, _fcfg())
    assert cache_key(rec.pcm.copy(), 16000, _fcfg()) == base
    assert cache_key(rec.pcm, 16000, _fcfg(n_mels=24)) != base
    assert cache_key(rec.pcm, 44100, _fcfg()) != base
    changed = rec.pcm.copy()
    changed[100] += 1
    assert cache_key(changed, 16000, _fcfg()) != base
    import edge.frontend
    monkeypatch.setattr(edge.frontend, "SPEC_VERSION", "999")
    assert cache_key(rec.pcm, 16000, _fcfg()) != base


def test_corrupt_file_is_a_miss_and_is_rewritten(tmp_path):
    cache = FeatureCache(tmp_path)
    rec, fcfg = _rec(), _fcfg()
    key = cache_key(rec.pcm, rec.sample_rate, fcfg)
    good = cache.frames(rec, fcfg)
    cache.path(key).write_bytes(b"PK\x03\x04 truncated")
    assert cache.load(key) is None
    assert np.array_equal(cache.frames(rec, fcfg), good)
    assert np.array_equal(cache.load(key), good)
    assert not list(cache.path(key).parent.glob("*.tmp"))  # no temp files left behind


def _worker(args):
    root, seed = args
    fcfg = _fcfg()
    return FeatureCache(root).frames(_rec(seed), fcfg).sum(dtype=np.int64)


def test_concurrent_writers_of_the_same_key(tmp_path):
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        sums = pool.map(_worker, [(str(tmp_path), 7)] * 4)
    assert len(set(sums)) == 1
    files = list(tmp_path.rglob("*.npz"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp"))
    assert FeatureCache(tmp_path).frames(_rec(7), _fcfg()).sum(dtype=np.int64) == sums[0]


def test_store_cleans_up_on_failure(tmp_path):
    cache = FeatureCache(tmp_path)

    class Boom:
        def __array__(self, *a, **k):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.store("ab" * 32, Boom())
    assert not list(tmp_path.rglob("*.tmp"))


def test_calibration_scales_change_the_key_and_the_features(tmp_path):
    import edge.frontend as fe
    from convert.featcache import FeatureCache, cache_key
    from convert.recording import Recording
    from convert.windowing import recording_frames

    cfg = fe.FrontendConfig(sample_rate=8000, n_mels=16, fmax_hz=3500.0)
    pcm = (np.sin(np.arange(8000) * 0.3) * 3000).astype(np.int16)
    k0 = cache_key(pcm, 8000, cfg)
    assert cache_key(pcm, 8000, cfg, 0.5, 0.5) == k0  # identity: same features, same key
    assert len({k0, cache_key(pcm, 8000, cfg, 0.1, 0.5), cache_key(pcm, 8000, cfg, 0.1, 0.25)}) == 3
    fine = Recording(pcm=pcm, sample_rate=8000, uv_per_lsb=0.1)
    cache = FeatureCache(tmp_path)
    got = recording_frames(fine, cfg, cache)
    assert np.array_equal(got, recording_frames(fine, cfg))
    quiet = Recording(pcm=((pcm.astype(np.int64) * 13107 + 32768) >> 16).astype(np.int16), sample_rate=8000,
                      uv_per_lsb=0.5)
    assert np.array_equal(got, recording_frames(quiet, cfg))  # 0.1 µV/LSB re-expressed at 0.5
    assert not np.array_equal(got, recording_frames(fine, cfg, uv_per_lsb=0.1))
