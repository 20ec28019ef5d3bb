"""Training side: needle-EMG simulator, recording I/O, training, int8 quantization, bundles.

Builds on :mod:`edge` (it trains on the device's exact integer features); ``edge`` never
imports ``convert``.
"""

from edge import __version__  # one version for the whole kit

__all__ = ["__version__"]
