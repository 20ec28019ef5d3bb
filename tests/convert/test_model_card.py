"""The model card states the bundle's own front-end and window settings and one build time (the
manifest's), not fixed text."""

from __future__ import annotations

import copy
import shutil

from convert.default_bundle import write_model_card
from edge.bundle import load_bundle
from edge.frontend import FrontendConfig


class _Retuned:
    """The default bundle with another front-end, windowing and build time (only what the card reads)."""

    def __init__(self, bundle, build_seconds: float) -> None:
        self._b = bundle
        self.frontend_config = FrontendConfig(sample_rate=16000, window_ms=32.0, hop_ms=16.0, n_mels=40,
                                              fmin_hz=30.0, fmax_hz=7000.0)
        self.window_s, self.hop_s = 2.0, 0.5
        self.manifest = copy.deepcopy(bundle.manifest)
        self.manifest["training"]["build_seconds"] = build_seconds

    def __getattr__(self, name):
        return getattr(self._b, name)


def test_card_takes_frontend_windows_and_build_time_from_the_bundle(tmp_path):
    bundle = load_bundle("default")
    for name in ("evaluation.json", "open_set.json"):
        shutil.copy(bundle.path / name, tmp_path / name)
    fake = _Retuned(bundle, build_seconds=754.0)
    write_model_card(tmp_path, fake, fake.manifest["metrics"])
    card = (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "32 ms / 16 ms, 40 Mel bands\n30 Hz–7 kHz" in card
    assert "25 ms" not in card and "64 Mel" not in card
    assert "one window of 2 s every 0.5 s" in card and "(2 s windows every 0.5 s;" in card
    assert "this build took 13 min on 2 shared cores" in card  # 754 s
    assert card.count(" min on ") == 1


def test_card_leaves_the_build_time_out_when_the_manifest_has_none(tmp_path):
    bundle = load_bundle("default")
    for name in ("evaluation.json", "open_set.json"):
        shutil.copy(bundle.path / name, tmp_path / name)
    fake = _Retuned(bundle, build_seconds=0.0)
    del fake.manifest["training"]["build_seconds"]
    write_model_card(tmp_path, fake, fake.manifest["metrics"])
    assert "this build took" not in (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")
