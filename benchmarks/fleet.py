"""Fleet benchmark (issue 15 item 4 target): N alerts through a real Mosquitto broker killed twice.

    .venv/bin/python benchmarks/fleet.py [--alerts 10000] [--down 1.5] [--out benchmarks/results/fleet.json]

Each alert goes the service's way: committed to a SQLite outbox on disk (WAL, synchronous=FULL),
published at QoS 1 by edge.runtime.mqtt_sink.MqttSink, marked delivered on its PUBACK. The broker
(``mosquitto``, SIGKILL) dies at N/3 and 2N/3 while alerts keep coming and is started again
``--down`` seconds later. A paho subscriber with a persistent session counts what arrives.

Target: 0 lost (every id received at least once, nothing pending). Duplicates are QoS 1's
at-least-once (re-sent because the PUBACK was lost with the connection) and are reported.
The peer is the same run with no kill: the ratio of wall times is what two outages cost.
Needs the ``fleet`` extra and the ``mosquitto`` binary.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.edge.mosquitto import MOSQUITTO, SKIP_REASON, Broker, kill_twice  # noqa: E402


def _run(n: int, down_s: float, kills: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp) / "broker")
        broker.start()
        try:
            if kills:
                return kill_twice(broker, Path(tmp) / "outbox.sqlite", n, unit_id="bench-unit", down_s=down_s)
            return kill_twice(broker, Path(tmp) / "outbox.sqlite", n, unit_id="bench-peer", down_s=down_s,
                              kill_at=())
        finally:
            broker.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alerts", type=int, default=10000)
    ap.add_argument("--down", type=float, default=1.5, help="seconds the broker stays dead each time")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fleet.json")
    args = ap.parse_args()
    if MOSQUITTO is None:
        print(f"fleet benchmark: {SKIP_REASON}", file=sys.stderr)
        return 2
    killed = _run(args.alerts, args.down, kills=True)
    peer = _run(args.alerts, args.down, kills=False)
    result = {
        "benchmark": "fleet", "machine": platform.machine(), "python": platform.python_version(),
        "alerts": args.alerts, "broker_down_s": args.down,
        "killed_twice": killed, "no_kill_peer": peer,
        "wall_ratio_killed_vs_peer": round(killed["seconds"] / max(peer["seconds"], 1e-9), 2),
        "target_met": killed["lost"] == 0 and killed["pending_after"] == 0 and killed["broker_kills"] == 2,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
