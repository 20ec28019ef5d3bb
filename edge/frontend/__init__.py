"""Integer-only log-Mel front-end; the bit-exact spec is edge/FRONTEND.md.

    from edge.frontend import FrontendConfig, Frontend, to_db, SPEC_VERSION
    fe = Frontend(FrontendConfig(sample_rate=44100)); feats = fe.process(pcm_int16)
    db = to_db(feats, fe.cfg)   # dB re one LSB², = feats/64, floor 0 dB
"""

from .config import FrontendConfig
from .log import DB_PER_LSB, FEATURE_DTYPE
from .pipeline import Frontend, to_db

SPEC_VERSION = "1.1"  # 1.0 was the pre-freeze draft (Q15/Q24 variants); its outputs differ

__all__ = ["FrontendConfig", "Frontend", "to_db", "SPEC_VERSION", "FEATURE_DTYPE", "DB_PER_LSB"]
