"""Ensemble bundles: several trained bundles as one, their probabilities averaged on the device.

``emg-convert ensemble --bundles CNN CRNN --out DIR [--weights 1 1]`` copies each member's
verified int8 model and float twin into one bundle (``model_<k>.tflite``,
``model_<k>_float.tflite``) whose manifest (``schema_version`` 2, :mod:`edge.bundle`) names
them in ``models`` with their weights, input and output quantisation. The device runs every
member on each window and averages the dequantised probabilities (:mod:`edge.inference`).

Members must share labels, pathological set, front-end (spec version and config), window and
µV per LSB; each member's feature → int8 rule is kept with it. The ensemble's lowest accepted
rate is the highest of the members'. A member's open-set guard (``open_set.json``) is not
carried over: its confidence test was fitted on that member's probabilities, not on the
average. ``--guard-data DIR`` (labelled recordings, e.g. the members' validation data) fits
the ensemble its own guard (:func:`fit_guard`): typicality from DIR's windows, the confidence
floor from the ensemble's averaged posteriors on a held-out quarter of DIR's recordings (or
on ``--guard-val-data``). Measured on three seeds of the default recipe, guard fitted on the
recipe's training and validation sets: docs/TRAINING.md, "Training seeds of the recipe".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path
from typing import Sequence

import edge
from edge.bundle import (ENSEMBLE_SCHEMA_VERSION, MAX_MEMBERS, SCHEMA, Bundle, BundleError, load_bundle,
                         sha256_file)
from edge.runtime.prior import ClassPrior

#: Manifest entries every member must share (the device computes one feature stream for all).
SHARED = ("labels", "pathological", "frontend", "window", "sample_rate")


def _check_compatible(bundles: Sequence[Bundle]) -> None:
    from clikit import UserError

    first = bundles[0]
    for b in bundles:
        if b.is_ensemble:
            raise UserError(f"bundle {b.path} is itself an ensemble; give the member bundles")
    for b in bundles[1:]:
        for key in SHARED:
            if b.manifest[key] != first.manifest[key]:
                raise UserError(f"bundles {first.path} and {b.path} differ in {key}; ensemble members must share "
                                f"{', '.join(SHARED)} and µV per LSB")
        if b.uv_per_lsb != first.uv_per_lsb:
            raise UserError(f"bundles {first.path} ({first.uv_per_lsb:g} µV/LSB) and {b.path} "
                            f"({b.uv_per_lsb:g} µV/LSB) expect different input scales")
        if ClassPrior.for_bundle(b).named() != ClassPrior.for_bundle(first).named():
            raise UserError(f"bundles {first.path} and {b.path} decide with different class priors "
                            f"({ClassPrior.for_bundle(first).named()} vs {ClassPrior.for_bundle(b).named()}; "
                            "edge.runtime.prior): the ensemble would carry one of them")


def load_members(bundle_paths: Sequence[str | Path], weights: Sequence[float] | None = None) -> tuple[list, list]:
    """The members of an ensemble, loaded and checked compatible, and their weights (default
    equal). Raises :class:`clikit.UserError` for a wrong count, bad weights, an unreadable or
    incompatible member."""
    from clikit import UserError

    if not 2 <= len(bundle_paths) <= MAX_MEMBERS:
        raise UserError(f"--bundles: give 2..{MAX_MEMBERS} bundles, got {len(bundle_paths)}")
    weights = [1.0] * len(bundle_paths) if weights is None else [float(w) for w in weights]
    if len(weights) != len(bundle_paths) or not all(0 < w <= 1000 for w in weights):
        raise UserError(f"--weights {weights}: need one number in (0, 1000] per bundle ({len(bundle_paths)})")
    try:  # build side: the members are hashed; their signatures (if any) do not carry over anyway
        bundles = [load_bundle(p, authenticate=False) for p in bundle_paths]  # a bare name: a shipped bundle
    except BundleError as exc:
        raise UserError(str(exc)) from None
    _check_compatible(bundles)
    return bundles, weights


def min_sample_rate(bundles: Sequence[Bundle]) -> int:
    """The lowest input rate (Hz) an ensemble of ``bundles`` accepts: the highest of theirs."""
    return max(int(b.min_sample_rate) for b in bundles)


def write_ensemble(out_dir: str | Path, bundle_paths: Sequence[str | Path],
                   weights: Sequence[float] | None = None) -> Path:
    """Write an ensemble bundle of ``bundle_paths`` (2..MAX_MEMBERS trained bundles).

    ``weights``: one positive number per member (default equal); normalised on loading.
    Each member's int8 model is verified again (:func:`convert.quantize.verify_int8`).
    Raises :class:`clikit.UserError` for incompatible members or bad weights.
    """
    return write_members(out_dir, *load_members(bundle_paths, weights))


def write_members(out_dir: str | Path, bundles: Sequence[Bundle], weights: Sequence[float]) -> Path:
    """:func:`write_ensemble` of members already loaded and checked by :func:`load_members`."""
    from convert.export import write_manifest
    from convert.quantize import verify_int8

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models, files = [], {}
    for k, (b, w) in enumerate(zip(bundles, weights)):
        report = verify_int8(b.model_path.read_bytes())
        names = (f"model_{k}.tflite", f"model_{k}_float.tflite")
        for src, name in zip((b.model_path, b.model_float_path), names):
            shutil.copyfile(src, out / name)
            files[name] = {"sha256": sha256_file(out / name), "bytes": (out / name).stat().st_size}
        m = b.manifest
        models.append({
            "file": names[0], "float_file": names[1], "weight": w, "model_id": b.model_id,
            "input": {"scale": m["input"]["scale"], "zero_point": m["input"]["zero_point"],
                      "feature_to_int8": m["input"]["feature_to_int8"]},
            "output": {"scale": m["output"]["scale"], "zero_point": m["output"]["zero_point"]},
            "architecture": m.get("architecture", {}),
            "int8_verification": {"ok": report.ok, "ops": dict(sorted(report.ops.items()))},
            "training": {k2: m.get("training", {}).get(k2)
                         for k2 in ("seed", "best_epoch", "val_macro_f1", "environment")},
        })
    first = bundles[0].manifest
    digest = hashlib.sha256("".join(f"{s['model_id']}:{s['weight']}" for s in models).encode()).hexdigest()
    manifest = {
        "schema": SCHEMA,
        "schema_version": ENSEMBLE_SCHEMA_VERSION,
        "model_id": f"emg-ensemble-{digest[:12]}",
        "kit_version": edge.__version__,
        **{key: first[key] for key in SHARED},
        "min_sample_rate": min_sample_rate(bundles),
        "input": {**first["input"], "note": "per-member quantisation in models[k].input"},
        "output": {"dtype": "float32",
                   "meaning": "weighted mean of the members' dequantised softmax probabilities"},
        "models": models,
        # the members' class prior (the same for all, _check_compatible): the ensemble decides as they do
        **({"decision_prior": first["decision_prior"]} if first.get("decision_prior") else {}),
        "files": files,
        "training": {"ensemble_of": [b.model_id for b in bundles], "weights": weights},
        "metrics": {},
    }
    write_manifest(out, manifest)
    return out


def guard_recordings(data: str | Path, val_data: str | Path | None, sample_rate: int, min_rate: int,
                     seed: int = 0, channel: int = 0) -> tuple[list, list]:
    """The labelled recordings a guard is fitted on: ``data`` split by recording (a quarter held
    out) unless ``val_data`` is given, read at ``sample_rate`` Hz (``min_rate`` the lowest the
    bundle accepts). Raises :class:`clikit.UserError` for an unusable data directory."""
    from clikit import UserError

    from convert import trainset

    try:
        return trainset.load_train_val(data, val_data, sample_rate, min_rate, 0.25, seed, channel)
    except ValueError as exc:
        raise UserError(f"--guard-data: {exc}") from None


def fit_guard(bundle_dir: str | Path, data: str | Path | None = None, val_data: str | Path | None = None,
              seed: int = 0, channel: int = 0, recordings: tuple[list, list] | None = None) -> dict:
    """Fit the open-set guard of the (ensemble) bundle in ``bundle_dir`` on labelled recordings
    (``recordings`` from :func:`guard_recordings`, or read here from ``data``/``val_data``), at
    the bundle's front-end, window and µV per LSB; write ``open_set.json`` into the bundle
    (listed in its manifest). Returns the window counts used."""
    from convert import trainset
    from convert.evaluate import window_config_for
    from convert.openset import add_open_set

    bundle = load_bundle(bundle_dir, authenticate=False)
    fe_cfg, wcfg = bundle.frontend_config, window_config_for(bundle)
    recs, val = recordings or guard_recordings(data, val_data, fe_cfg.sample_rate, bundle.min_sample_rate,
                                               seed, channel)
    tr = trainset.features(recs, fe_cfg, wcfg, uv_per_lsb=bundle.uv_per_lsb)
    va = trainset.features(val, fe_cfg, wcfg, uv_per_lsb=bundle.uv_per_lsb)
    add_open_set(bundle_dir, tr.X, tr.y, va.X, va.y)
    return {"guard_windows": len(tr), "guard_val_windows": len(va)}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("ensemble", help="combine trained bundles into one that averages their probabilities",
                              description="Write an ensemble bundle: the device runs every member's int8 model "
                                          "and averages the probabilities.")
    p.add_argument("--bundles", nargs="+", required=True, help=f"2..{MAX_MEMBERS} trained bundle directories")
    p.add_argument("--weights", nargs="+", type=float, help="one weight per bundle (default equal)")
    p.add_argument("--out", required=True, help="ensemble bundle directory to write")
    p.add_argument("--guard-data", help="labelled data directory to fit the ensemble's own open-set guard on "
                                        "(a quarter of its recordings held out for the confidence floor)")
    p.add_argument("--guard-val-data", help="separate labelled directory for the guard's held-out part")
    p.set_defaults(func=_cmd_ensemble)


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from clikit import UserError

    if args.guard_val_data and not args.guard_data:
        raise UserError("--guard-val-data needs --guard-data")
    members, weights = load_members(args.bundles, args.weights)
    recordings = None
    if args.guard_data:
        # Read the guard's data first: an unusable directory must not leave an unguarded
        # ensemble behind. The members share a front-end.
        recordings = guard_recordings(args.guard_data, args.guard_val_data, members[0].frontend_config.sample_rate,
                                      min_sample_rate(members))
    out = write_members(args.out, members, weights)
    guard = fit_guard(out, recordings=recordings) if recordings else {}
    b = load_bundle(out, authenticate=False)
    print(json.dumps({"bundle": str(out), "model_id": b.model_id,
                      "members": [s["model_id"] for s in b.manifest["models"]],
                      "weights": [round(m.weight, 6) for m in b.members], "open_set": bool(guard), **guard}),
          flush=True)
    return 0
