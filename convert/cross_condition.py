"""The cross-condition run (issue 11 part 6): build the held-out test sets once, train and
evaluate one small int8 CNN per seed on the restricted training condition, write JSON.

``benchmarks/cross_condition.py`` is the command line over :func:`main`; the conditions and
the reusable steps are in :mod:`convert.conditions`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from convert import conditions as C


def _simulator_version() -> str:
    from convert.simulator import GENERATOR_VERSION

    return str(GENERATOR_VERSION)


def run(seeds: list[int], sizes: "C.Sizes", out: Path, work: Path | None = None, log=print,
        command: str = "", reuse: bool = False) -> dict:
    """Build the test sets once, train and evaluate one bundle per seed, write ``out`` (JSON).
    ``command`` is recorded as what made the file; ``reuse``: evaluate the bundles already
    under ``work`` instead of training them again (:func:`convert.conditions.run_seed`)."""
    from convert import trainset

    t0 = time.time()
    fe = trainset.default_frontend_config(C.NATIVE_RATE)
    wcfg = trainset.window_config(1.0, 0.25)
    train_wcfg = trainset.window_config(1.0, 0.5)
    log("building test sets")
    tests = C.build_test_sets(sizes, fe, wcfg, log=log)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [C.run_seed(Path(work or tmp), s, sizes, tests, fe, wcfg, train_wcfg, log=log, reuse=reuse)
                for s in seeds]
    summary = C.summarise(runs)
    res = {
        "command": command,
        "sizes": asdict(sizes), "seeds": seeds, "simulator_version": _simulator_version(),
        "training_condition": {"needle": "concentric", "chain": asdict(C.TRAIN_CHAIN)},
        "conditions": {k: v["info"] for k, v in tests.items()},
        "summary": summary, "runs": runs, "seconds": round(time.time() - t0, 1),
    }
    notes = sorted({v["info"]["note"] for v in tests.values() if "note" in v["info"]})
    if notes:
        res["notes"] = notes
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    log(C.format_table(summary))
    for n in notes:
        log("NOTE: " + n)
    log(f"wrote {out} [{res['seconds']:.0f} s]")
    return res


def main(argv: list[str] | None = None, prog: str = "python benchmarks/cross_condition.py",
         default_out: str | Path = "cross_condition.json", description: str | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and :func:`run`; the JSON records
    ``prog`` and the arguments as its command."""
    p = argparse.ArgumentParser(description=description or __doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="number of training seeds (0, 1, ...)")
    p.add_argument("--first-seed", type=int, default=0, metavar="N",
                   help="first training seed (default 0): seeds N, N+1, ...; separate processes can train "
                        "different seeds on one machine and their JSON runs be summarised together")
    p.add_argument("--epochs", type=int, help=f"training epochs (default {C.Sizes().epochs})")
    p.add_argument("--train-clips", type=int, help="training clips per class")
    p.add_argument("--train-recordings", type=int, help="training examinations (60 s)")
    p.add_argument("--test-clips", type=int, help="test clips per class per condition")
    p.add_argument("--test-recordings", type=int, help="test examinations per condition")
    p.add_argument("--chain-copies", type=int, help="chain copies per training recording")
    p.add_argument("--weight-average", type=float, metavar="DECAY",
                   help="train with a moving average of the weights (convert.train.TrainConfig; default off)")
    p.add_argument("--altsim-clips", type=int, metavar="N",
                   help="add N clips per class (3x voluntary) of convert.altsim, the second generator, to training, "
                        "as the default recipe does (default 0)")
    p.add_argument("--quick", action="store_true", help="tiny sets, 2 epochs, 1 seed (harness check)")
    p.add_argument("--out", default=str(default_out))
    p.add_argument("--work", help="keep the trained bundles here")
    p.add_argument("--reuse", action="store_true",
                   help="evaluate the bundles already in --work (trained with the same training sizes) "
                        "instead of training them again, e.g. on larger test sets")
    args_list = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(args_list)
    sizes = C.Sizes.quick() if args.quick else C.Sizes()
    over = {k: v for k, v in (("epochs", args.epochs), ("train_clips", args.train_clips),
                               ("train_recordings", args.train_recordings), ("test_clips", args.test_clips),
                               ("test_recordings", args.test_recordings), ("chain_copies", args.chain_copies),
                               ("weight_average", args.weight_average), ("altsim_clips", args.altsim_clips))
            if v is not None}
    try:
        sizes = replace(sizes, **over)
    except ValueError as e:
        p.error(str(e))
    if args.reuse and not args.work:
        p.error("--reuse needs --work DIR (the folder of the bundles to evaluate)")
    n_seeds = 1 if args.quick and args.seeds == 3 else args.seeds
    if not 0 <= args.first_seed <= 10_000:
        p.error(f"--first-seed {args.first_seed}: allowed 0..10000")
    seeds = list(range(args.first_seed, args.first_seed + n_seeds))
    from clikit import UserError

    try:
        run(seeds, sizes, Path(args.out), Path(args.work) if args.work else None,
            command=f"{prog} " + " ".join(args_list), reuse=args.reuse)
    except UserError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    return 0
