"""Packaging (issue 15 item 6): the wheel's contents and size, the cibuildwheel table, and the C
extensions' sources compiled for aarch64 with a cross-compiler (the Raspberry Pi wheels).

The extension list is read from ``setup.py`` itself (its ``setup()`` call captured), so a new
source file or extension is cross-compiled without editing this test.
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import setuptools

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CROSS_CC = "aarch64-linux-gnu-gcc"
EM_AARCH64 = 183  # ELF e_machine
MAX_WHEEL_BYTES = 2_000_000


def _extensions() -> list[setuptools.Extension]:
    captured: dict = {}
    saved, cwd = setuptools.setup, os.getcwd()
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        os.chdir(ROOT)
        runpy.run_path(str(ROOT / "setup.py"))
    finally:
        setuptools.setup, _ = saved, os.chdir(cwd)
    return captured["ext_modules"]


def _elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", path
    return int.from_bytes(head[18:20], "little")


@pytest.mark.parametrize("ext", _extensions(), ids=lambda e: e.name)
def test_extension_sources_cross_compile_for_aarch64(ext, tmp_path):
    cc = shutil.which(CROSS_CC)
    if cc is None:
        pytest.skip(f"no {CROSS_CC} (Debian/Ubuntu: apt-get install --no-install-recommends "
                    "gcc-aarch64-linux-gnu libc6-dev-arm64-cross; `make cross-compiler` does it as root)")
    # The host's Python headers: the C API is the same on aarch64, and pyconfig.h's sizes are the
    # same on both LP64 targets (the real aarch64 build, cibuildwheel, uses the target's own).
    includes = [f"-I{ROOT / d}" for d in ext.include_dirs] + [f"-I{sysconfig.get_paths()['include']}"]
    objects = []
    for source in ext.sources:
        obj = tmp_path / (Path(source).stem + ".o")
        proc = subprocess.run([cc, "-c", "-fPIC", "-O2", "-Wall", "-Werror", *ext.extra_compile_args, *includes,
                               str(ROOT / source), "-o", str(obj)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{source} for aarch64:\n{proc.stderr}"
        objects.append(str(obj))
    so = tmp_path / "ext.so"
    proc = subprocess.run([cc, "-shared", *objects, "-o", str(so)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr  # e.g. a symbol defined twice across the sources
    assert _elf_machine(so) == EM_AARCH64


def test_extensions_are_required_when_the_build_asks(monkeypatch):
    """EMG_REQUIRE_EXTENSIONS=1 at build time (cibuildwheel) makes a failed extension fatal."""
    monkeypatch.delenv("EMG_REQUIRE_EXTENSIONS", raising=False)  # `make test` sets it
    assert all(e.optional for e in _extensions())
    monkeypatch.setenv("EMG_REQUIRE_EXTENSIONS", "1")
    assert not any(e.optional for e in _extensions())


def test_cibuildwheel_builds_linux_x86_64_and_aarch64_with_the_extensions():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    assert set(cfg["linux"]["archs"]) == {"x86_64", "aarch64"}
    assert cfg["environment"] == {"EMG_REQUIRE_EXTENSIONS": "1"}
    assert "musllinux" in cfg["skip"]
    assert cfg["manylinux-x86_64-image"] == cfg["manylinux-aarch64-image"] == "manylinux_2_28"
    # one CPython per version the metadata claims
    classifiers = re.findall(r"Python :: (3\.\d+)$", (ROOT / "setup.cfg").read_text(), re.M)
    assert sorted(cfg["build"].split()) == sorted(f"cp3{v.split('.')[1]}-*" for v in classifiers)
    assert any("_kernel" in cmd and "_ccodec" in cmd for cmd in cfg["test-command"])


@pytest.mark.slow
def test_wheel_is_small_complete_and_builds_without_warnings(tmp_path):
    """Build the wheel from a copy of the working tree (tracked and new files) as pip does."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    src = tmp_path / "src"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                           "-w", str(tmp_path / "w"), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    warnings = [ln for ln in (proc.stdout + proc.stderr).splitlines() if re.search(r"Warning\b", ln)]
    assert warnings == []
    (wheel,) = (tmp_path / "w").glob("*.whl")
    assert wheel.stat().st_size <= MAX_WHEEL_BYTES
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "edge/demo/data/demo.wav" not in names  # made on first use (edge/demo/recording.py)
    for needed in ("edge/bundles/pins.json", "edge/bundles/default/manifest.json", "edge/bundles/default/model.tflite",
                   "edge/demo/data/demo.json", "edge/demo/data/demo.labels.csv", "edge/py.typed",
                   "edge/frontend/c/emg_frontend.h", "firmware_bridge/c/emg_proto.c", "convert/py.typed"):
        assert needed in names, needed
    quant = {p.name for p in (ROOT / "edge" / "quant").glob("*.json")}
    assert quant and {f"edge/quant/{n}" for n in quant} <= names
