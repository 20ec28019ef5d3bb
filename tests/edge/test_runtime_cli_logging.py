"""emg-edge run's logging: the bridge's records (HELLO, refused HELLOs) reach stderr too."""

from __future__ import annotations

import logging

from edge.runtime.cli_run import LOGGERS, _setup_logging


def test_link_records_reach_stderr(capsys):
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level, logging.getLogger(n).propagate)
             for n in LOGGERS}
    try:
        for n in LOGGERS:
            logging.getLogger(n).handlers.clear()
        _setup_logging(quiet=False)
        logging.getLogger("firmware_bridge.host.link").info("HELLO from unit X")
        logging.getLogger("emg-edge").info("calibration line")
        err = capsys.readouterr().err
        assert "emg-edge: INFO HELLO from unit X" in err and "calibration line" in err
        _setup_logging(quiet=True)
        logging.getLogger("firmware_bridge.host.link").info("not shown")
        assert "not shown" not in capsys.readouterr().err
    finally:
        for n, (handlers, level, prop) in saved.items():
            lg = logging.getLogger(n)
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = prop
