"""The runtime names its collaborators by role (edge/runtime/roles.py) and never probes them."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

import edge.runtime
from edge.frontend import FEATURE_DTYPE, Frontend, FrontendConfig

#: (module, reason): the one use of getattr that reads no collaborator.
ALLOWED = {("config.py", "iterates its own dataclass fields to check their types")}


def test_no_hasattr_or_getattr_probing_in_the_runtime():
    found = []
    for path in sorted(Path(edge.runtime.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr"):
                if not any(path.name == name for name, _ in ALLOWED):
                    found.append(f"{path.name}:{node.lineno} {node.func.id}")
    assert found == []


def test_the_real_frontend_states_its_feature_dtype():
    fe = Frontend(FrontendConfig(sample_rate=8000, n_mels=8, fmax_hz=4000.0))
    feats = fe.process(np.zeros(400, np.int16))
    assert fe.dtype is FEATURE_DTYPE and feats.dtype == fe.dtype and fe.kernel in ("c", "numpy")
