"""The host side of the wire: sample sources (serial link, audio ADC, WAV/EDF/WFDB file) and the
one tracker of stream indices they all account gaps and duplicates with.

* :mod:`~firmware_bridge.host.source`: :class:`SampleBlock`, the :class:`SampleSource`
  protocol, :class:`WavSource`;
* :mod:`~firmware_bridge.host.link`: :class:`SerialLink` (samples in, alerts out);
* :mod:`~firmware_bridge.host.adc`: :class:`AdcSource` (ALSA/PortAudio);
* :mod:`~firmware_bridge.host.gaps`: :class:`GapTracker`;
* :mod:`~firmware_bridge.host.wavinfo`: the RIFF layout (fmt, data, truncation) and the ``uv_per_lsb`` comment;
* :mod:`~firmware_bridge.host.wavfile`: the one WAV decoder (every encoding, in blocks), also ``convert``'s;
* :mod:`~firmware_bridge.host.physio`: EDF/BDF and WFDB channels and their source (``edf:``, ``wfdb:``);
* :mod:`~firmware_bridge.host.monitor`: ``emg-bridge monitor``.
"""
