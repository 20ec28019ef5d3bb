"""The simulated unit: a virtual amplifier speaking the protocol on a pseudo-terminal, with
injectable byte faults (noisy cable, USB unplug). Uses the codec; the host side only to read
WAV files.

* :mod:`~firmware_bridge.sim.virtual_amp`: :class:`VirtualAmplifier`;
* :mod:`~firmware_bridge.sim.virtual_amp_cli`: ``emg-bridge virtual-amp``;
* :mod:`~firmware_bridge.sim.faults`: :class:`FaultConfig`, :class:`ByteFaults`;
* :mod:`~firmware_bridge.sim.ptyport`: :class:`PtyPort`.
"""
