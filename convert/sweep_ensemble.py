"""``emg-convert sweep-ensemble RESULTS/ --members SEL SEL [...]``: ensembles of a sweep's trials, per seed.

For every training seed that each member selection has a finished trial for, the members'
bundles (trained with that seed) are combined into an ensemble bundle
(:func:`convert.ensemble.write_ensemble`: the device averages the members' dequantised int8
probabilities) and evaluated on the evaluation sets the members were evaluated on (the same
window sets, ``RESULTS/_features/eval-*``, and real sets; :func:`convert.sweep.evaluate_sets`),
with the same figures. Each ensemble is written as one more trial folder,
``RESULTS/ens-<id>/`` (``config.json``, ``metrics.json``, ``bundle/``), so
``emg-convert sweep-summary`` and ``benchmarks/sweep_report.py`` compare it with its members
seed by seed (paired: the ensemble of seed k against the members of seed k).

A selection is ``KEY=VALUE[,KEY=VALUE]`` over the trials' resolved configs (as
``sweep-summary --reference``) and must pick exactly one configuration. The ensemble's config
holds ``model = "ensemble"``, ``members`` (each member's selection, as given), the seed and every
setting the members share; its id is the sha256 of that config, so a rerun skips ensembles that
exist. An ensemble carries no open-set guard (:mod:`convert.ensemble`), so its ``*_guarded``
figures are absent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

from convert.sweep import BUNDLE, METRICS_FILE, evaluate_sets, trial_folder, write_trial
from convert.sweep_summary import config_key, load_trials, matches, parse_reference

PREFIX = "ens-"


def member_trials(results: Path, selections: list[dict]) -> dict[int, list[dict]]:
    """{seed: [trial of selection 0, trial of selection 1, ...]} for the seeds every selection has.

    Raises ValueError when a selection matches no configuration or more than one."""
    trials = [t for t in load_trials(results) if t["config"].get("model") != "ensemble"]
    per: list[dict[int, dict]] = []
    for sel in selections:
        hits = [t for t in trials if matches(t["config"], sel)]
        confs = {config_key(t["config"]) for t in hits}
        if len(confs) != 1:
            raise ValueError(f"member {_text(sel)} matches {len(confs)} configurations in {results}; "
                             "give KEY=VALUE pairs that pick exactly one")
        per.append({t["config"]["seed"]: t for t in hits})
    seeds = sorted(set.intersection(*(set(p) for p in per)))
    return {s: [p[s] for p in per] for s in seeds}


def _text(sel: dict) -> str:
    return ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(sel.items()))


def ensemble_config(members: list[dict], selections: list[dict], seed: int) -> dict:
    """The ensemble's resolved config: model, members, weights, seed and the settings all members share."""
    shared = {k: v for k, v in members[0]["config"].items()
              if k not in ("model", "seed") and all(m["config"].get(k) == v for m in members[1:])}
    return {**shared, "model": "ensemble", "members": [_text(s) for s in selections], "seed": seed}


def run(results: Path, selections: list[dict], weights: list[float] | None = None, log=print) -> dict:
    """Write and evaluate the ensemble of ``selections`` for every common seed; returns counts."""
    from convert.ensemble import write_ensemble
    from edge.bundle import load_bundle

    if len(selections) < 2:
        raise ValueError("--members: give at least two selections")
    pairs = member_trials(results, selections)
    if not pairs:
        raise ValueError(f"no seed has a finished trial of every member in {results}")
    out = {"seeds": sorted(pairs), "written": 0, "skipped": 0}
    for seed, members in pairs.items():
        cfg = ensemble_config(members, selections, seed)
        if weights is not None:
            cfg["weights"] = [float(w) for w in weights]
        digest = hashlib.sha256(json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        tid = PREFIX + digest[:12]
        final = results / tid
        if (final / METRICS_FILE).is_file():
            out["skipped"] += 1
            continue
        shutil.rmtree(final, ignore_errors=True)  # a folder without metrics is a stale half result
        with trial_folder(results, tid) as tmp:
            write_ensemble(tmp / BUNDLE, [results / m["id"] / BUNDLE for m in members], weights)
            bundle = load_bundle(tmp / BUNDLE, authenticate=False)
            sets = set.intersection(*(set(m["metrics"]["sets"]) for m in members))
            metrics = {"id": tid, "bundle": bundle.model_id, "members": [m["id"] for m in members],
                       "sets": evaluate_sets(bundle, results, sorted(sets))}
            write_trial(tmp, tid, cfg, cfg, metrics)
        out["written"] += 1
        first = next(iter(metrics["sets"].values()), {})
        log(f"ensemble seed {seed} ({tid}): {next(iter(metrics['sets']), '-')} int8 macro-F1 "
            f"{first.get('int8_macro_f1', float('nan')):.3f}")
    return out


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep-ensemble", help="ensembles of a sweep's trials, one per training seed",
                              description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("results", help="the sweep's RESULTS directory")
    p.add_argument("--members", nargs="+", required=True,
                   help="one KEY=VALUE[,KEY=VALUE] selection per member, e.g. model=cnn model=crnn")
    p.add_argument("--weights", nargs="+", type=float, help="one weight per member (default equal)")
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    from clikit import UserError

    results = Path(args.results)
    if not results.is_dir():
        raise UserError(f"{results} is not a directory")
    if args.weights is not None and len(args.weights) != len(args.members):
        raise UserError(f"--weights: give one per member ({len(args.members)}), got {len(args.weights)}")
    try:
        res = run(results, [parse_reference(m) for m in args.members], args.weights)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(res), flush=True)
    return 0
