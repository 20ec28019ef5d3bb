"""The runtime packages must never pull in TensorFlow; console scripts exist and fail cleanly."""

import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_runtime_imports_without_tensorflow():
    code = (
        "import sys, importlib, pkgutil\n"
        "import edge, firmware_bridge\n"
        "for pkg in (edge, firmware_bridge):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name.endswith('__main__'):\n"
        "            continue\n"
        "        try:\n"
        "            importlib.import_module(m.name)\n"
        "        except ImportError as e:\n"
        "            if 'tensorflow' in str(e): raise\n"
        "bad = sorted(k for k in sys.modules if k == 'tensorflow' or k.startswith('tensorflow.') or k == 'keras')\n"
        "print(','.join(bad))\n"
    )
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"runtime imported {out.stdout.strip()}"


def test_litert_interpreter_found_without_tensorflow():
    out = _run("import sys; from edge import litert; print(litert.backend()); print('tensorflow' in sys.modules)")
    assert out.returncode == 0, out.stderr
    backend, tf_loaded = out.stdout.split()
    assert backend == "ai_edge_litert"
    assert tf_loaded == "False"


def test_console_scripts_report_usage_errors_in_one_line():
    for module in ("edge.cli", "convert.cli", "firmware_bridge.cli"):
        out = subprocess.run([sys.executable, "-m", module, "no-such-command"], capture_output=True, text=True)
        assert out.returncode == 2
        assert "Traceback" not in out.stderr
