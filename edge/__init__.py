"""Device runtime: integer log-Mel front-end, int8 LiteRT inference, event detection, alerts.

Never imports TensorFlow.
"""

__version__ = "0.1.0"

__all__ = ["Detector", "__version__"]


def __getattr__(name: str):
    # Lazy: ``import edge`` stays cheap (no numpy/LiteRT) for the tools that only need a module.
    if name == "Detector":
        from edge.api import Detector

        return Detector
    raise AttributeError(f"module 'edge' has no attribute {name!r}")
