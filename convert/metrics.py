"""Classification metrics on window labels: per-class P/R/F1, macro-F1, confusion matrix,
normal-versus-pathological sensitivity and specificity. Pure numpy."""

from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``C[i, j]`` = windows of true class ``i`` predicted as ``j`` (int64)."""
    c = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(c, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return c


def per_class(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...] | list[str]) -> dict:
    """``{label: {precision, recall, f1, support}}``; a class with no support gets f1 ``None``."""
    c = confusion(y_true, y_pred, len(labels))
    out = {}
    for i, name in enumerate(labels):
        tp = int(c[i, i])
        support = int(c[i].sum())
        predicted = int(c[:, i].sum())
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        f1 = (2 * p * r / (p + r) if p + r else 0.0) if support else None
        out[name] = {"precision": round(p, 6), "recall": round(r, 6),
                     "f1": None if f1 is None else round(f1, 6), "support": support}
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Mean F1 over the classes present in ``y_true`` (absent classes are not averaged)."""
    c = confusion(y_true, y_pred, n_classes)
    f1s = []
    for i in range(n_classes):
        support = c[i].sum()
        if not support:
            continue
        tp = c[i, i]
        denom = support + c[:, i].sum()
        f1s.append(2.0 * tp / denom if denom else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


def pathological_detection(y_true: np.ndarray, y_pred: np.ndarray, pathological_mask: np.ndarray) -> dict:
    """Normal-versus-pathological: a window is positive if its class is pathological.

    ``pathological_mask[k]`` is True for pathological class ``k``. Sensitivity = TP/(TP+FN),
    specificity = TN/(TN+FP); ``None`` where the denominator is zero.
    """
    mask = np.asarray(pathological_mask, bool)
    t = mask[np.asarray(y_true, np.int64)]
    p = mask[np.asarray(y_pred, np.int64)]
    tp, fn = int(np.sum(t & p)), int(np.sum(t & ~p))
    tn, fp = int(np.sum(~t & ~p)), int(np.sum(~t & p))
    return {
        "sensitivity": round(tp / (tp + fn), 6) if tp + fn else None,
        "specificity": round(tn / (tn + fp), 6) if tn + fp else None,
        "tp": tp, "fn": fn, "tn": tn, "fp": fp,
    }


def called_pathological(y_true: np.ndarray, y_pred: np.ndarray, pathological_mask: np.ndarray,
                        classes: np.ndarray | list[int] | None = None) -> dict:
    """Share of windows whose true class is in ``classes`` and whose prediction is pathological.

    ``classes`` defaults to every normal class (then ``share`` is the false-alarm rate per normal
    window, 1 − specificity); ``[voluntary index]`` gives the share of voluntary windows called
    pathological. ``share`` is ``None`` without such windows.
    """
    mask = np.asarray(pathological_mask, bool)
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    classes = np.flatnonzero(~mask) if classes is None else np.asarray(classes, np.int64)
    sel = np.isin(y_true, classes)
    n, k = int(sel.sum()), int(np.sum(mask[y_pred[sel]]))
    return {"windows": n, "called_pathological": k, "share": round(k / n, 6) if n else None}
