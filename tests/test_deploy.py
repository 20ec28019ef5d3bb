"""deploy/: the udev rule and the systemd unit agree (the rule starts the unit it names; the
unit waits for the device the rule creates), for the active rule and every commented example."""

from __future__ import annotations

import re
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES = DEPLOY / "99-emg-amplifier.rules"
SERVICE = DEPLOY / "emg-edge.service"


def _rules(text: str) -> list[str]:
    """Every rule, active or a commented-out example, as one line (continuations joined)."""
    lines = [re.sub(r"^#\s?", "", ln) for ln in text.splitlines()]
    joined = "\n".join(lines).replace("\\\n", " ")
    return [ln for ln in joined.splitlines() if "SYMLINK+=" in ln]


def test_every_udev_rule_names_the_service_it_starts():
    rules = _rules(RULES.read_text())
    assert len(rules) == 3  # CDC-ACM (active), FTDI, PL011 examples
    for rule in rules:
        assert 'SYMLINK+="emg-amp"' in rule and 'TAG+="systemd"' in rule, rule
        assert f'ENV{{SYSTEMD_WANTS}}+="{SERVICE.name}"' in rule, rule


def test_service_waits_for_the_device_the_rule_creates():
    text = SERVICE.read_text()
    # systemd-escape --path /dev/emg-amp
    assert "Wants=dev-emg\\x2damp.device" in text
    comments = " ".join(ln for ln in text.splitlines() if ln.startswith("#"))
    assert "SYSTEMD_WANTS" in comments and RULES.name in comments
