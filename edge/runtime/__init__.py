"""The on-device detection service: source → front-end → windows → int8 inference →
smoothing → event detector → durable alerts → amplifier and local sinks.

One module per stage: :mod:`config`, :mod:`sources`, :mod:`windows`, :mod:`smoothing`,
:mod:`detector` (:mod:`decision` joins those two into the decision stage), :mod:`alerts`,
:mod:`outbox`, :mod:`stats`, :mod:`service` (the loop) and :mod:`cli_run` (``emg-edge run``).
"""
