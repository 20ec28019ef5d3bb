"""The on-device detection service: source → front-end → windows → int8 inference →
smoothing → event detector → durable alerts → amplifier and local sinks.

One module per stage: :mod:`config`, :mod:`sources`, :mod:`windows`, :mod:`smoothing`,
:mod:`detector` (:mod:`decision` joins those two into the decision stage), :mod:`alerts`,
:mod:`outbox`, :mod:`stats`, :mod:`service` (the loop) and :mod:`cli_run` (``emg-edge run``).
The loop's parts: :mod:`roles` (what each collaborator provides), :mod:`reader` (the reader
thread, block merging), :mod:`delivery` (outbox, listeners, the wire and ACKs), :mod:`options`,
:mod:`signals` and :mod:`summary`. docs/ARCHITECTURE.md follows one sample through them.
"""
