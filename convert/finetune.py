"""Fine-tune a bundle on a clinic's small labelled set.

``emg-convert finetune --base BUNDLE --data DIR --out DIR`` continues from the base bundle's
trained weights (``weights.npz``), keeps its front-end, window and feature→int8 rule (so the
device computes the same features), freezes the first ``--freeze-blocks`` convolution blocks
(weights and batch-norm statistics; 0 = train everything) and trains the rest at a lower
learning rate (``--lr``, default 3e-4, a tenth of training from scratch), with early stopping
on validation macro-F1. It prints the base and the fine-tuned model's validation macro-F1 and
writes a new verified int8 bundle whose manifest names its base.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def freeze_blocks(model, n_blocks: int) -> list[str]:
    """Make ``conv{i}``/``bn{i}`` for ``i < n_blocks`` untrainable; return the frozen layer names.

    A frozen batch-norm layer also stops updating its running statistics (Keras 3 runs it in
    inference mode), which matters with a small clinic set.
    """
    frozen = []
    for layer in model.layers:
        for prefix in ("conv", "bn"):
            if layer.name.startswith(prefix) and layer.name[len(prefix):].isdigit() \
                    and int(layer.name[len(prefix):]) < n_blocks:
                layer.trainable = False
                frozen.append(layer.name)
    return frozen


def base_model_config(bundle):
    """The ModelConfig a bundle was trained with (batch norm unfolded); UserError when the
    bundle carries no training weights and architecture to continue from."""
    from clikit import UserError

    from convert.export import WEIGHTS
    from convert.models import ModelConfig

    arch = dict(bundle.manifest.get("architecture") or {})
    if not arch or not (bundle.path / WEIGHTS).is_file() or WEIGHTS not in bundle.manifest["files"]:
        raise UserError(f"bundle {bundle.path} has no training weights ({WEIGHTS} and architecture): "
                        "it cannot be fine-tuned; use a bundle written by emg-convert train")
    arch.pop("batchnorm_folded", None)
    return ModelConfig.from_dict(arch)


def load_base_model(bundle):
    """Rebuild the base bundle's Keras model (batch norm unfolded) with its trained weights."""
    from convert.export import WEIGHTS, load_weights
    from convert.models import build_model

    cfg = base_model_config(bundle)
    model = build_model((bundle.window_frames, bundle.frontend_config.n_mels), bundle.n_classes, cfg)
    load_weights(model, bundle.path / WEIGHTS)
    return model, cfg


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("finetune", help="adapt a bundle to a small labelled data directory",
                              description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("--base", default="default", help="base bundle directory or shipped name")
    p.add_argument("--data", required=True, help="data directory (recordings + same-stem label files)")
    p.add_argument("--val-data", help="validation directory (default: split --data by recording)")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--freeze-blocks", type=int, default=2,
                   help="convolution blocks kept frozen, from the input side (default 2; 0 = none)")
    p.add_argument("--lr", type=float, default=3e-4, help="learning rate (default 3e-4)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--augment-copies", type=int, default=2,
                   help="copies of each recording through a random recording chain (convert.chain)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_finetune)


def _cmd_finetune(args: argparse.Namespace) -> int:
    from clikit import UserError

    from convert import trainset
    from convert.evaluate import window_config_for
    from convert.metrics import macro_f1
    from convert.train import TrainConfig, to_model_input, train_and_export
    from edge.bundle import BundleError, load_bundle
    from edge.inference import FeatureQuantizer
    from edge.runtime.prior import ClassPrior

    try:
        base = load_bundle(args.base)
    except BundleError as exc:
        raise UserError(str(exc)) from None
    model, cfg = load_base_model(base)
    n_blocks = len(cfg.widths)
    if not 0 <= args.freeze_blocks <= n_blocks:
        raise UserError(f"--freeze-blocks {args.freeze_blocks} out of range 0..{n_blocks} (blocks in the model)")
    fe_cfg, wcfg = base.frontend_config, window_config_for(base)
    train_recs, val_recs = trainset.load_train_val(args.data, args.val_data, fe_cfg.sample_rate,
                                                   base.min_sample_rate, 0.25, args.seed)
    scale = base.uv_per_lsb  # the new bundle's features stay at the base bundle's µV per LSB
    tr = trainset.features(train_recs, fe_cfg, wcfg, augment_copies=args.augment_copies, seed=args.seed,
                           uv_per_lsb=scale)
    va = trainset.features(val_recs, fe_cfg, wcfg, uv_per_lsb=scale)
    quant = FeatureQuantizer.from_dict(base.manifest["input"]["feature_to_int8"])
    before = macro_f1(va.y, np.argmax(model.predict(to_model_input(quant(va.X)), verbose=0), axis=1),
                      base.n_classes)
    frozen = freeze_blocks(model, args.freeze_blocks)
    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                       patience=args.patience, seed=args.seed, verbose=0 if args.quiet else 2)
    result = train_and_export(
        Path(args.out), tr, va, quant, cfg, tcfg, fe_cfg, wcfg, base.min_sample_rate,
        data_summary={"train_dir": str(args.data), "val_dir": args.val_data, "train": tr.summary(),
                      "val": va.summary()},
        extra_training={"finetuned_from": base.model_id, "frozen_layers": frozen,
                        "base_val_macro_f1": round(before, 6)},
        base_model=model, uv_per_lsb=scale,
        decision_prior=ClassPrior.for_bundle(base).named(),  # it decides as its base did
    )
    from convert.openset import add_open_set

    add_open_set(Path(args.out), tr.X, tr.y, va.X, va.y)
    print(json.dumps({"bundle": str(args.out), "base": base.model_id, "frozen_layers": frozen,
                      "val_macro_f1_before": round(before, 4),
                      "val_macro_f1_after": round(result.best_val_macro_f1, 4)}), flush=True)
    return 0
