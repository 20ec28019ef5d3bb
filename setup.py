"""Build script for the optional compiled accelerators; all metadata lives in setup.cfg.

Each extension is optional (unless EMG_REQUIRE_EXTENSIONS=1 at build time, below): where no C
compiler or Python headers are available the install still succeeds and the pure-Python/numpy
code (the specification the extensions are held to bit for bit by the tests) is used instead.
`make test` sets EMG_REQUIRE_EXTENSIONS=1 so that CI fails when an extension did not build.
"""

import os

from setuptools import Extension, setup

#: EMG_REQUIRE_EXTENSIONS=1 at build time (the cibuildwheel configuration in pyproject.toml)
#: makes a failed extension fail the build: a published wheel always carries the accelerators.
OPTIONAL = os.environ.get("EMG_REQUIRE_EXTENSIONS") != "1"

EXTENSIONS = [
    # COBS block decoder of the bridge: the same C codec firmware authors use (firmware_bridge/c).
    Extension("firmware_bridge.codec._ccodec",
              sources=["firmware_bridge/codec/_ccodec.c", "firmware_bridge/c/emg_proto.c"],
              include_dirs=["firmware_bridge/c"], optional=OPTIONAL),
    # Integer log-Mel front-end kernel (edge/frontend/c), bit-exact to the numpy spec path: plan,
    # stages and the float64 DFT (the build picks the DFT by file; emg_fe_dft_int64.c is the
    # firmware variant without floating point). Its AVX2+FMA path is chosen at run time, so
    # -march is not needed.
    Extension("edge.frontend._kernel",
              sources=["edge/frontend/_kernel.c", "edge/frontend/c/emg_fe_plan.c",
                       "edge/frontend/c/emg_fe_stages.c", "edge/frontend/c/emg_fe_dft_f64.c"],
              include_dirs=["edge/frontend/c"], extra_compile_args=["-O3"], optional=OPTIONAL),
]

setup(ext_modules=EXTENSIONS)
