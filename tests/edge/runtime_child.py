"""Child process for the durability test: the service on a serial source with the stand-ins.

    python -m tests.edge.runtime_child SERIAL_PATH OUTBOX JSONL [SECONDS_PER_WINDOW]
"""

import logging
import sys

from edge.runtime.service import RuntimeOptions, run

from tests.edge.runtime_standins import EnergyFrontend, ThresholdClassifier, standin_bundle


def main() -> int:
    path, outbox, jsonl = sys.argv[1:4]
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    logging.basicConfig(level=logging.INFO, format="child: %(levelname)s %(message)s")
    b = standin_bundle(8000)
    summary = run(RuntimeOptions(
        bundle=b, source=f"serial:{path}", classifier=ThresholdClassifier(delay_s=delay), frontend=EnergyFrontend(b.frontend_config),
        outbox=outbox, alerts_jsonl=jsonl, stats_every_s=0, drain_s=5.0,
    ))
    print(f"child done: {summary.reason}, alerts {summary.alerts_raised}, resent {summary.alerts_resent}, "
          f"pending {summary.pending_alerts}", file=sys.stderr)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
