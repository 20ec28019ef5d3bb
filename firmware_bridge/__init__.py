"""The wire to the EMG amplifier: binary protocol, serial/USB link, ADC source, virtual amplifier.

Lowest layer of the kit: imports neither :mod:`edge` nor :mod:`convert`.
"""
