"""`emg-edge frontend-tables` + the C kernel compiled outside Python (as firmware would build it):
the features equal the Python front-end's bit for bit, so a unit can compute what a bundle was
trained on. Skipped only when no C compiler is installed.

Every DFT variant of the kernel is built as a standalone driver (fe_example.c) with strict
warnings and checked at all five golden configs. The build picks the DFT by file (the plan and
stage files are common to all):

* ``dispatch``: emg_fe_dft_f64.c (AVX2+FMA vector code on x86-64 CPUs that have it);
* ``no-vector-ext``: emg_fe_dft_f64.c with ``-DEMG_FE_NO_VECTOR_EXT`` (the dispatched code as
  plain loops);
* ``generic``: emg_fe_dft_f64.c, the tables' flags set to EMG_FE_FLAG_GENERIC (the portable
  float64 code);
* ``int64``: emg_fe_dft_int64.c (plain int64 DFT, no floating point: for MCUs without a
  double-precision FPU).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main as edge_main
from edge.frontend import Frontend, FrontendConfig
from edge.frontend import fft as fft_module
from edge.frontend.export_c import render_header
from edge.frontend.window import window_and_normalise
from tests.edge.golden.frontend_signals import CONFIGS, golden_signals, white_noise

C_DIR = Path(__file__).resolve().parents[2] / "edge" / "frontend" / "c"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc/clang) on PATH")
STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-Wconversion", "-Wno-sign-conversion"]
COMMON = ("emg_fe_plan.c", "emg_fe_stages.c")  # every build: the plan and the shared stages
F64 = COMMON + ("emg_fe_dft_f64.c",)
INT64 = COMMON + ("emg_fe_dft_int64.c",)
HEADERS = ("emg_frontend.h", "emg_fe_internal.h")
# variant: (kernel sources, defines, tables flags)
VARIANTS = {
    "dispatch": (F64, (), "0u"),
    "no-vector-ext": (F64, ("-DEMG_FE_NO_VECTOR_EXT",), "0u"),
    "generic": (F64, (), "EMG_FE_FLAG_GENERIC"),
    "int64": (INT64, (), "0u"),
}


def cc(*args: str | Path) -> None:
    r = subprocess.run([CC, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, f"{CC} {' '.join(map(str, args))}\n{r.stderr}"


@pytest.fixture(scope="module")
def kernel_objects(tmp_path_factory) -> dict[tuple, list[Path]]:
    """The kernel's object files for each (sources, defines), compiled once for the module."""
    d = tmp_path_factory.mktemp("kernel")
    objs = {}
    for sources, defines, _ in VARIANTS.values():
        tag = "".join(defines).replace("-D", "_")
        objs[sources, defines] = [d / f"{Path(src).stem}{tag}.o" for src in sources]
        for src, obj in zip(sources, objs[sources, defines]):
            if not obj.exists():
                cc(*STRICT, *defines, "-c", C_DIR / src, "-o", obj)
    return objs


def build_drivers(tmp_path: Path, cfg: FrontendConfig, kernel_objects) -> dict[str, Path]:
    """fe_example linked against every variant, tables of cfg."""
    header = render_header(cfg, "fe")
    exes = {}
    for name, (sources, defines, flags) in VARIANTS.items():
        d = tmp_path / name
        d.mkdir()
        assert "    .flags = 0u," in header
        (d / "emg_fe_tables.h").write_text(header.replace("    .flags = 0u,", f"    .flags = {flags},"))
        cc(*STRICT, f"-I{C_DIR}", f"-I{d}", "-c", C_DIR / "fe_example.c", "-o", d / "fe_example.o")
        cc(d / "fe_example.o", *kernel_objects[sources, defines], "-o", d / "fe_example")
        exes[name] = d / "fe_example"
    return exes


def run(exe: Path, pcm: np.ndarray, n_mels: int) -> np.ndarray:
    out = subprocess.run([str(exe)], input=pcm.astype("<i2").tobytes(), capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<i2").reshape(-1, n_mels)


def impulses(n: int, frame_length: int) -> np.ndarray:
    """Single-sample impulses, at most one per frame (spacing > L), of extreme and tiny sizes;
    the first sits on sample 0, where the window is 0 (a silent frame despite the impulse)."""
    x = np.zeros(n, dtype=np.int16)
    values = [32767, -32768, 1, -1, 20000, -7, 3, -32767]
    pos, i = 0, 0
    while pos < n:
        x[pos] = values[i % len(values)]
        pos += frame_length + 1 + 97 * i % frame_length
        i += 1
    return x


def signals(rate: int, cfg: FrontendConfig) -> dict[str, np.ndarray]:
    sigs = dict(golden_signals(rate))
    n = (3 * rate) // 10
    sigs["noise_int16_full_range"] = np.random.default_rng(rate).integers(-32768, 32768, n, dtype=np.int16)
    sigs["single_impulses"] = impulses(n, cfg.frame_length)
    return sigs


@needs_cc
@pytest.mark.parametrize("rate", sorted(CONFIGS))
def test_standalone_c_kernel_with_exported_tables_equals_python(tmp_path, rate, kernel_objects):
    cfg = FrontendConfig(**CONFIGS[rate])
    exes = build_drivers(tmp_path, cfg, kernel_objects)
    ref = Frontend(cfg, kernel="numpy")
    for name, pcm in signals(rate, cfg).items():
        want = ref.process(pcm)
        ref.reset()
        assert want.shape[0] > 0, name
        for variant, exe in exes.items():
            np.testing.assert_array_equal(run(exe, pcm, cfg.n_mels), want, err_msg=f"{variant}: {name}")


@needs_cc
def test_int64_variant_without_twiddle_symmetry(tmp_path, monkeypatch, kernel_objects):
    """A twiddle table without conjugate symmetry: every k1 column computed in full."""
    real = fft_module.twiddles

    def perturbed(N):
        C, S = real(N)
        S = S.copy()
        S[N // 8] -= 3  # breaks S[N-j] = -S[j]
        return C, S

    monkeypatch.setattr(fft_module, "twiddles", perturbed)  # export_c takes Frontend's tables
    cfg = FrontendConfig(**CONFIGS[22050])
    ref = Frontend(cfg, kernel="numpy")
    assert not ref.plan._symmetric
    exes = build_drivers(tmp_path, cfg, kernel_objects)
    for name, pcm in {"noise": white_noise(6000, 22050, -3.0, seed=5),
                      "impulses": impulses(6000, cfg.frame_length)}.items():
        want = ref.process(pcm)
        ref.reset()
        for variant in ("int64", "dispatch"):
            np.testing.assert_array_equal(run(exes[variant], pcm, cfg.n_mels), want, err_msg=f"{variant}: {name}")


PROBE = r"""/* Test probe: the DFT file's emg_fe_dft_frames of frames of u (L int64 each, stdin) ->
 * X_re, X_im of the bins k_lo..k_hi (int64, stdout). */
#include <stdio.h>
#include <stdlib.h>

#include "emg_fe_internal.h"
#include "emg_fe_tables.h"

int main(void) {
    emg_fe_plan *p;
    void *mem;
    emg_fe_workspace w;
    size_t L, K, n, off;
    if (emg_fe_plan_create(&fe_tables, &p) != EMG_FE_OK) return 2;
    mem = malloc(emg_fe_workspace_size(p));
    if (!mem) return 1;
    w = emg_fe_ws_layout(p, mem);
    L = (size_t)p->L;
    K = (size_t)(p->k_hi - p->k_lo + 1);
    off = (size_t)(p->k_lo - p->kb);
    for (n = L; n < w.u_n; n++) w.u[n] = 0;
    while (fread(w.u, sizeof(int64_t), L, stdin) == L) {
        emg_fe_dft_frames(p, w.u, w.u_n, 1, w.xre, w.xim, w.x_n, w.dft);
        fwrite(w.xre + off, sizeof(int64_t), K, stdout);
        fwrite(w.xim + off, sizeof(int64_t), K, stdout);
    }
    free(mem);
    emg_fe_plan_free(p);
    return 0;
}
"""


def adversarial_u(cfg: FrontendConfig) -> np.ndarray:
    """Frames of u (the §4 input) that the sample-domain signals do not reach: exact rounding ties
    in pass A (u = odd·2^25 at one sample, so u·C_j and u·S_j end in 2^25 for odd twiddles: this is
    where the mirrored column's own rounding shows), and frames at the bound Σ|u| < 2^35 + L/2
    whose signs follow a bin's twiddles (pass-B sums near 2^63)."""
    L, N = cfg.frame_length, cfg.fft_size
    top = (1 << 35) - 1
    rows = []
    for n in sorted({0, 1, 5, L // 3, L // 2, L - 1}):
        for v in (1 << 25, -(3 << 25), 1023 << 25, top, -top):
            r = np.zeros(L, dtype=np.int64)
            r[n] = v
            rows.append(r)
    n = np.arange(L)
    even = top // L
    rows += [np.full(L, even), np.where(n % 2 == 0, even, -even)]
    C, S = fft_module.twiddles(N)
    for k in (1, 7, N // 4 - 3, N // 2 - 1):
        rows.append(np.where(C[(n * k) % N] >= 0, even, -even))
        rows.append(np.where(S[(n * k) % N] >= 0, -even, even))
    rng = np.random.default_rng(L)
    for _ in range(4):
        r = rng.integers(-(1 << 40), 1 << 40, L)
        rows.append(r * top // np.abs(r).sum())
    u = np.array(rows, dtype=np.int64)
    assert (np.abs(u).sum(axis=1) < (1 << 35) + L // 2).all()
    return u


@needs_cc
@pytest.mark.parametrize("variant", ["int64", "dispatch", "no-vector-ext"])
@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_dft_equals_the_spec_sums_on_adversarial_inputs(tmp_path, rate, variant, kernel_objects):
    """Each DFT file's emg_fe_dft_frames against DftPlan.dft_int64 (the spec's plain int64
    sums), X for X."""
    sources, defines, _ = VARIANTS[variant]
    cfg = FrontendConfig(**CONFIGS[rate])
    (tmp_path / "emg_fe_tables.h").write_text(render_header(cfg, "fe"))
    (tmp_path / "probe.c").write_text(PROBE)
    cc(*STRICT, f"-I{C_DIR}", f"-I{tmp_path}", tmp_path / "probe.c", *kernel_objects[sources, defines],
       "-o", tmp_path / "probe")
    ref = Frontend(cfg, kernel="numpy")
    pcm_frames = np.random.default_rng(rate).integers(-32768, 32768, (6, cfg.frame_length))
    u_real, _ = window_and_normalise(pcm_frames.astype(np.int16), ref.window)
    u = np.concatenate([adversarial_u(cfg), u_real.astype(np.int64)])
    out = subprocess.run([str(tmp_path / "probe")], input=u.astype("<i8").tobytes(), capture_output=True,
                         check=True).stdout
    got = np.frombuffer(out, dtype="<i8").reshape(u.shape[0], 2, -1)
    want = ref.plan.dft_int64(u)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ref.plan.dft(u), want)


def _own_lines(preprocessed: str) -> str:
    """The lines of preprocessor output that come from the kernel's own files (not system
    headers), string literals removed."""
    keep, own = [], False
    for line in preprocessed.splitlines():
        m = re.match(r'#\s*\d+\s+"([^"]*)"', line)
        if m:
            own = Path(m.group(1)).name in (*F64, *INT64, *HEADERS)
        elif own:
            keep.append(re.sub(r'"(\\.|[^"\\])*"', '""', line))
    return "\n".join(keep)


FLOATING = re.compile(r"\b(double|float)\b|\b\d+\.\d*|\.\d+\b|\b\d+[eE][+-]?\d+\b")


@needs_cc
def test_int64_variant_contains_no_floating_point(tmp_path):
    """The int64 build is for CPUs without a double-precision FPU, so no floating-point type,
    literal or instruction may occur anywhere in its files (not only the per-frame code).

    1. Each preprocessed file of the build (its own lines, system headers excluded) has no
       `double`, `float` or floating literal; the float64 DFT file does (so the check is not
       vacuous).
    2. Where the compiler has -mgeneral-regs-only (gcc on x86-64 and aarch64; clang on aarch64),
       the kernel compiles with it: no FP or vector register is used at all. A one-line double
       computation fails with the same flag (the compiler does enforce it).
    """
    def preprocess(source: str) -> str:
        return subprocess.run([CC, "-E", "-std=c99", f"-I{C_DIR}", str(C_DIR / source)],
                              capture_output=True, text=True, check=True).stdout

    assert FLOATING.search(_own_lines(preprocess("emg_fe_dft_f64.c"))) is not None
    for source in INT64:
        hit = FLOATING.search(_own_lines(preprocess(source)))
        assert hit is None, f"floating point in {source} of the int64 build: {hit.group(0)!r}"

    probe = tmp_path / "probe.c"
    probe.write_text("long f(long x) { return x + 1; }\n")
    if subprocess.run([CC, "-mgeneral-regs-only", "-c", str(probe), "-o", str(tmp_path / "p.o")],
                      capture_output=True).returncode != 0:
        pytest.skip(f"{CC} has no -mgeneral-regs-only here (the preprocessor check passed)")
    probe.write_text("long f(long x) { double d = (double)x; return (long)(d * 1.5); }\n")
    assert subprocess.run([CC, "-O2", "-mgeneral-regs-only", "-c", str(probe), "-o", str(tmp_path / "p.o")],
                          capture_output=True).returncode != 0
    for source in INT64:
        cc(*STRICT, "-mgeneral-regs-only", "-c", C_DIR / source, "-o", tmp_path / f"{Path(source).stem}.o")


def test_cli_writes_the_bundle_config_header(tmp_path, capsys):
    out = tmp_path / "t.h"
    assert edge_main(["frontend-tables", "--bundle", "default", "--name", "dflt", "--out", str(out)]) == 0
    text = out.read_text()
    assert "static const emg_fe_tables dflt_tables" in text and "Spec version 1.1" in text
    assert "#define DFLT_HOP 441" in text


def test_cli_rejects_a_bad_config_in_one_line(capsys):
    assert edge_main(["frontend-tables", "--sample-rate", "8000", "--fmax-hz", "6000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "fmax" in err
