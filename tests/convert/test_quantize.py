"""Full-int8 conversion: a tiny model trains and converts; the verification rejects float graphs."""

from __future__ import annotations

import numpy as np
import pytest

from convert.models import ModelConfig, build_model, fold_batchnorm
from convert.quantize import (Int8VerificationError, QuantizationError, calibration_set, inspect_tflite,
                              to_tflite_float, to_tflite_int8, to_tflite_int8_isolated, verify_int8)
from convert.train import TrainConfig, fit, to_model_input
from edge.inference import FeatureQuantizer
from tests.edge.bundle_helpers import FRAMES, N_MELS, synthetic_windows

CFG = ModelConfig(arch="cnn", widths=(8, 8), pools=((2, 2), (2, 2)), dropout=0.1)


@pytest.fixture(scope="module")
def trained():
    X, y = synthetic_windows(20, 6, seed=0)
    q = FeatureQuantizer.from_range(int(X.min()), int(X.max()))(X)
    model = build_model((FRAMES, N_MELS), 6, CFG, seed=0)
    result = fit(model, q, y, q[::2], y[::2], TrainConfig(epochs=8, batch_size=16, learning_rate=1e-2, spec_augment=False,
                                                            verbose=0, patience=6))
    return fold_batchnorm(model, CFG), q, y, result


def test_tiny_model_learns(trained):
    _, _, _, result = trained
    assert result.best_val_macro_f1 > 0.8
    assert "val_macro_f1" in result.history and result.best_epoch >= 1


def test_int8_conversion_is_verified_full_integer(trained):
    model, q, y, _ = trained
    content = to_tflite_int8(model, calibration_set(to_model_input(q), 64))
    report = verify_int8(content)
    assert report.ok and report.input_dtype == "int8" and report.output_dtype == "int8"
    assert set(report.tensor_dtypes) <= {"int8", "int16", "int32"}
    assert "DEQUANTIZE" not in report.ops and "QUANTIZE" not in report.ops
    assert report.ops.get("CONV_2D") == 2
    # the calibration pin gives the documented input grid: q fed unchanged
    assert report.input_quantization == (1.0 / 128.0, 0)


def test_verification_rejects_a_float_graph(trained):
    model, _, _, _ = trained
    content = to_tflite_float(model)
    with pytest.raises(Int8VerificationError, match="float32"):
        verify_int8(content)
    assert not inspect_tflite(content).ok


def test_verification_rejects_float_io_with_dequantize(trained):
    """Integer-only ops inside but float input/output: QUANTIZE/DEQUANTIZE at the edges."""
    import tensorflow as tf

    from convert.quantize import _converter

    model, q, _, _ = trained
    rep = calibration_set(to_model_input(q), 32)
    conv = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rep[i:i + 1]] for i in range(len(rep)))
    content = conv.convert()  # float input/output → QUANTIZE and DEQUANTIZE ops
    report = inspect_tflite(content)
    assert "DEQUANTIZE" in report.ops
    with pytest.raises(Int8VerificationError, match="DEQUANTIZE"):
        verify_int8(content)


def test_isolated_conversion_matches_in_process(trained):
    model, q, _, _ = trained
    rep = calibration_set(to_model_input(q), 32)
    a = to_tflite_int8(model, rep)
    b = to_tflite_int8_isolated(model, rep)
    assert verify_int8(b).ops == verify_int8(a).ops


def test_empty_representative_set_is_refused(trained):
    model, _, _, _ = trained
    with pytest.raises(QuantizationError, match="empty"):
        to_tflite_int8(model, np.zeros((0, FRAMES, N_MELS), np.float32))
