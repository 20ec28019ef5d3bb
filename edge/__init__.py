"""Device runtime: integer log-Mel front-end, int8 LiteRT inference, event detection, alerts.

Never imports TensorFlow.
"""

__version__ = "0.1.0"
