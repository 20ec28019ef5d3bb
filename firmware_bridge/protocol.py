"""The wire protocol's public names (frames, :func:`encode`, :class:`Decoder`), as documented.

Re-exported from :mod:`firmware_bridge.codec`, where they live; new code may import either.
"""

from firmware_bridge.codec import *  # noqa: F401,F403 - the documented import path
from firmware_bridge.codec import __all__  # noqa: F401
