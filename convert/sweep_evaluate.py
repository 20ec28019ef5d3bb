"""``emg-convert sweep-evaluate RESULTS/ --sets NAME [...]``: add evaluation sets to finished trials.

A sweep evaluates each trial on its grid's ``[eval] sets`` when the trial ends. A question
asked later (how does each configuration do on a real record?) needs the same figures on one
more set for every trial, without training anything again: this command evaluates each
finished trial's bundle (ensembles included) on the named sets it lacks
(:func:`convert.sweep.evaluate_sets`) and adds them to its ``metrics.json``, so
``emg-convert sweep-summary`` compares the configurations on them seed by seed.

A set is a simulated condition of :data:`convert.conditions.CONDITIONS` (its windows are built
once into ``RESULTS/_features/eval-<name>`` at the sizes of the sweep's ``[eval]``), ``test``
(the sweep's ``DIR/test``) or a real set of :data:`convert.real_records.REAL_SETS`. Each
``metrics.json`` is replaced atomically; the results folder is locked as a sweep locks it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from convert.sweep import (BUNDLE, METRICS_FILE, SWEEP_FILE, EvalSpec, Grid, evaluate_sets, prepare_features,
                           results_lock)
from convert.sweep_summary import load_trials


def _grid_for(results: Path, names: list[str]) -> tuple[Grid, Path | None]:
    """The sweep's grid (``RESULTS/sweep.json``) with ``[eval] sets`` = ``names``, and its data directory."""
    meta_file = results / SWEEP_FILE
    if not meta_file.is_file():
        raise ValueError(f"{results} has no {SWEEP_FILE}: not the results folder of emg-convert sweep")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    grid = Grid.from_dict(meta["grid"])
    ev = EvalSpec(sets=tuple(names), test_clips=grid.eval.test_clips, test_recordings=grid.eval.test_recordings)
    grid = Grid(base=grid.base, axes=grid.axes, eval=ev, data=grid.data)
    data = Path(meta["data"]) if grid.data.source == "dir" and meta.get("data") else None
    return grid, data


def run(results: Path, names: list[str], force: bool = False, log=print) -> dict:
    """Evaluate every finished trial of ``results`` on the sets of ``names`` it lacks (all of
    them with ``force``); returns ``{"trials", "updated", "evaluations"}``."""
    grid, data = _grid_for(results, names)  # validates the names (EvalSpec)
    with results_lock(results):
        prepare_features(grid, [], data, results, results / "_featcache", log)
        from edge.bundle import load_bundle

        out = {"trials": 0, "updated": 0, "evaluations": 0}
        for t in load_trials(results):
            out["trials"] += 1
            folder = results / t["id"]
            todo = [n for n in names if force or n not in t["metrics"]["sets"]]
            if not todo:
                continue
            # the sweep's own output, evaluated on the build side (as sweep-ensemble loads it)
            bundle = load_bundle(folder / BUNDLE, authenticate=False)
            metrics = dict(t["metrics"])
            metrics["sets"] = {**metrics["sets"], **evaluate_sets(bundle, results, todo)}
            tmp = folder / (METRICS_FILE + ".tmp")
            tmp.write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, folder / METRICS_FILE)  # a reader sees the old figures or the new, whole
            out["updated"] += 1
            out["evaluations"] += len(todo)
            log(f"trial {t['id']}: " + ", ".join(
                f"{n} specificity {_f(metrics['sets'][n].get('specificity'))}" for n in todo))
    return out


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep-evaluate", help="add evaluation sets (e.g. a real record) to a sweep's trials",
                              description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("results", help="the sweep's RESULTS directory")
    p.add_argument("--sets", nargs="+", required=True,
                   help="evaluation set names: conditions (in_condition, monopolar, ...), test, or real sets "
                        "(physionet_healthy)")
    p.add_argument("--force", action="store_true", help="evaluate again the sets a trial already has")
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    from clikit import UserError

    results = Path(args.results)
    if not results.is_dir():
        raise UserError(f"{results} is not a directory")
    try:
        res = run(results, list(args.sets), args.force)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(res), flush=True)
    return 0
