"""Model builders: shapes, He init, batch-norm folding equivalence, SpecAugment masking."""

from __future__ import annotations

import numpy as np
import pytest

from convert.models import ModelConfig, build_model, count_params, fold_batchnorm, spec_augment


def test_config_validation_names_the_bad_value():
    with pytest.raises(ValueError, match="dropout 0.95"):
        ModelConfig(dropout=0.95)
    with pytest.raises(ValueError, match="arch 'mlp'"):
        ModelConfig(arch="mlp")
    with pytest.raises(ValueError, match="pools"):
        ModelConfig(widths=(8, 8), pools=((2, 2),))
    assert ModelConfig.from_dict(ModelConfig.default("crnn").to_dict()) == ModelConfig.default("crnn")


@pytest.mark.parametrize("arch", ["cnn", "crnn"])
def test_models_output_probabilities(arch):
    if arch == "cnn":
        cfg = ModelConfig(arch="cnn", widths=(4, 8), pools=((2, 2), (2, 2)))
    else:
        cfg = ModelConfig.default("crnn", widths=(4, 8, 8))
    m = build_model((32, 16), 12, cfg, seed=1)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 32, 16)).astype(np.float32)
    p = m.predict(x, verbose=0)
    assert p.shape == (3, 12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert count_params(m) > 0


def test_he_initialisation_scale():
    cfg = ModelConfig(arch="cnn", widths=(64, 64), pools=((1, 1), (1, 1)), batchnorm=False)
    m = build_model((8, 8), 4, cfg, seed=0)
    w = m.get_layer("conv1").get_weights()[0]
    fan_in = 3 * 3 * 64
    # he_normal: truncated normal with std sqrt(2/fan_in) (truncation shrinks the std by ~12 %)
    assert 0.8 * np.sqrt(2 / fan_in) < w.std() < 1.05 * np.sqrt(2 / fan_in)


def test_same_seed_same_weights():
    cfg = ModelConfig(arch="cnn", widths=(4,), pools=((2, 2),))
    a = build_model((8, 8), 3, cfg, seed=5).get_weights()
    b = build_model((8, 8), 3, cfg, seed=5).get_weights()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("arch", ["cnn", "crnn"])
def test_batchnorm_folding_preserves_outputs(arch):
    cfg = ModelConfig(arch=arch, widths=(4, 8), pools=((2, 2), (2, 2)), dropout=0.2)
    m = build_model((16, 16), 5, cfg, seed=2)
    rng = np.random.default_rng(3)
    for layer in m.layers:  # non-trivial BN statistics
        if layer.name.startswith("bn"):
            g, b, mu, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, g.shape), rng.normal(0, 0.5, b.shape),
                               rng.normal(0, 0.5, mu.shape), rng.uniform(0.5, 2, var.shape)])
    folded = fold_batchnorm(m, cfg)
    assert not any(layer.name.startswith("bn") for layer in folded.layers)
    assert not any(layer.name == "dropout" for layer in folded.layers)
    x = rng.uniform(-1, 1, (4, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(folded.predict(x, verbose=0), m.predict(x, verbose=0), atol=1e-5)


def test_spec_augment_masks_with_the_floor_and_keeps_input():
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 1, (16, 40, 32)).astype(np.float32)
    before = x.copy()
    y = spec_augment(x, np.random.default_rng(1), time_masks=2, max_time=6, freq_masks=2, max_freq=5)
    np.testing.assert_array_equal(x, before)  # input untouched
    changed = y != x
    assert changed.any()
    for i in range(len(x)):
        assert np.all(y[i][changed[i]] == x[i].min())
        # masks are bounded: at most 2 time spans of 6 frames and 2 bands of 5 channels
        full_rows = np.all(changed[i] | (x[i] == x[i].min()), axis=1).sum()
        assert full_rows <= 12 + 1


@pytest.mark.parametrize("rnn", ["lstm_gates", "gru_gates", "tcn"])
def test_quantization_friendly_temporal_layers_match_their_fold_and_give_probabilities(rnn):
    cfg = ModelConfig.default("crnn", widths=(4, 8), pools=((2, 2), (2, 2)), rnn=rnn, rnn_units=8)
    m = build_model((24, 16), 5, cfg, seed=1)
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, (3, 24, 16)).astype(np.float32)
    p = m.predict(x, verbose=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(fold_batchnorm(m, cfg).predict(x, verbose=0), p, atol=1e-5)
    # one Dense layer per gate, no fused kernel (the SPLIT the converter left in float)
    names = {layer.name for layer in m.layers}
    if rnn == "lstm_gates":
        assert {"rnn_xi", "rnn_xf", "rnn_xg", "rnn_xo", "rnn_hi", "rnn_hf", "rnn_hg", "rnn_ho"} <= names
    elif rnn == "gru_gates":
        assert {"rnn_xz", "rnn_xr", "rnn_xn", "rnn_hz", "rnn_hr", "rnn_hn"} <= names
    else:
        assert {"tcn0", "tcn1", "tcn2"} <= names
    assert "rnn" not in names


def test_gated_lstm_is_the_lstm_equations():
    """The per-gate sub-graph computes the textbook LSTM (checked against numpy, 4 steps)."""
    import keras

    cfg = ModelConfig(arch="crnn", widths=(2,), pools=((1, 1),), rnn="lstm_gates", rnn_units=3,
                      batchnorm=False, dropout=0.0)
    m = build_model((4, 2), 2, cfg, seed=3)
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (1, 4, 2)).astype(np.float32)
    seq = keras.Model(m.input, m.get_layer("to_sequence").output).predict(x, verbose=0)[0]
    h_out = keras.Model(m.input, m.get_layer("classifier").input).predict(x, verbose=0)[0]
    W = {g: m.get_layer(f"rnn_x{g}").get_weights() for g in "ifgo"}
    U = {g: m.get_layer(f"rnn_h{g}").get_weights()[0] for g in "ifgo"}
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, c = np.zeros(3), np.zeros(3)
    for t in range(4):
        pre = {g: seq[t] @ W[g][0] + W[g][1] + h @ U[g] for g in "ifgo"}
        c = sig(pre["f"]) * c + sig(pre["i"]) * np.tanh(pre["g"])
        h = sig(pre["o"]) * np.tanh(c)
    np.testing.assert_allclose(h_out, h, atol=1e-5)


def test_default_crnn_trains_exports_and_verifies_full_int8(tmp_path):
    """The route `emg-convert train --model crnn` takes: trained a few steps, converted in a
    child process (as training does), verified: every operator int8/int16/int32."""
    from edge.bundle import load_bundle
    from edge.inference import Int8Classifier
    from tests.edge.bundle_helpers import make_tiny_bundle, synthetic_windows

    cfg = ModelConfig.default("crnn", widths=(4, 8), pools=((2, 2), (2, 2)), rnn_units=8, dropout=0.1)
    assert cfg.rnn == "gru_gates"
    b = load_bundle(make_tiny_bundle(tmp_path / "crnn", epochs=2, cfg=cfg, isolate=True))
    rep = b.manifest["int8_verification"]
    assert rep["ok"] and not rep["problems"]
    assert set(rep["tensor_dtypes"]) <= {"int8", "int16", "int32"}
    assert "SPLIT" not in rep["ops"] and "DEQUANTIZE" not in rep["ops"] and "FULLY_CONNECTED" in rep["ops"]
    assert b.model_id.startswith("emg-crnn-")
    X, _ = synthetic_windows(1, b.n_classes, seed=3)
    p = Int8Classifier(b).predict_many(X)
    assert p.shape == (b.n_classes, b.n_classes) and np.all(np.abs(p.sum(axis=1) - 1) < 0.05)


# ---------------------------------------------------------------- initialiser and spatial dropout options

def test_init_and_spatial_dropout_errors_name_the_value_and_range():
    with pytest.raises(ValueError, match=r"spatial_dropout 0.9 out of range \[0, 0.9\)"):
        ModelConfig(spatial_dropout=0.9)
    with pytest.raises(ValueError, match=r"spatial_dropout -0.1 out of range"):
        ModelConfig(spatial_dropout=-0.1)
    with pytest.raises(ValueError, match="init 'xavier' not one of"):
        ModelConfig(init="xavier")
    cfg = ModelConfig(init="glorot_uniform", spatial_dropout=0.2)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    # a manifest written before the options existed still reads, with the old behaviour
    old = {k: v for k, v in ModelConfig().to_dict().items() if k not in ("init", "spatial_dropout")}
    assert ModelConfig.from_dict(old) == ModelConfig()
    assert ModelConfig().init == "he_normal" and ModelConfig().spatial_dropout == 0.0


TINY = dict(arch="cnn", widths=(4, 8), pools=((2, 2), (1, 1)))


@pytest.mark.parametrize("rate", [0.0, 0.25])
def test_spatial_dropout_layer_after_each_block_only_when_asked(rate):
    m = build_model((16, 16), 3, ModelConfig(**TINY, spatial_dropout=rate), seed=0)
    names = [layer.name for layer in m.layers]
    sd = [n for n in names if n.startswith("spatial_dropout")]
    if rate == 0:
        assert sd == []
        return
    assert sd == ["spatial_dropout0", "spatial_dropout1"]
    # after the block's pooling (or ReLU where the block does not pool)
    assert names.index("spatial_dropout0") == names.index("pool0") + 1
    assert names.index("spatial_dropout1") == names.index("relu1") + 1
    assert m.get_layer("spatial_dropout0").rate == rate


def test_spatial_dropout_drops_whole_channels_in_training_only():
    m = build_model((16, 16), 3, ModelConfig(**TINY, spatial_dropout=0.5, batchnorm=False), seed=0)
    import keras

    probe = keras.Model(m.input, m.get_layer("spatial_dropout1").output)
    x = np.random.default_rng(0).uniform(0.1, 1, (2, 16, 16)).astype(np.float32)
    train = np.asarray(probe(x, training=True))
    infer = np.asarray(probe(x, training=False))
    before = np.asarray(keras.Model(m.input, m.get_layer("relu1").output)(x))
    np.testing.assert_allclose(infer, before, atol=1e-6)  # identity at inference
    zero_maps = np.all(train == 0, axis=(1, 2))  # (batch, channels): a dropped channel is zero everywhere
    live = np.any(before != 0, axis=(1, 2))
    assert zero_maps[live].any() and not zero_maps[live].all()


def test_glorot_init_scale_and_default_is_he():
    shape, fan_in, fan_out = (8, 8), 3 * 3 * 64, 3 * 3 * 64
    base = dict(arch="cnn", widths=(64, 64), pools=((1, 1), (1, 1)), batchnorm=False)
    he = build_model(shape, 4, ModelConfig(**base), seed=0).get_layer("conv1").get_weights()[0]
    gl = build_model(shape, 4, ModelConfig(**base, init="glorot_uniform"), seed=0)
    w = gl.get_layer("conv1").get_weights()[0]
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w).max() <= limit + 1e-7
    assert abs(w.std() - limit / np.sqrt(3)) < 0.05 * limit  # uniform(-a, a): sd a / sqrt(3)
    # Glorot sd sqrt(2 / (fan_in + fan_out)) = sqrt(1 / fan_in) here, He sqrt(2 / fan_in) (Keras
    # corrects the truncation): Glorot / He = 1 / sqrt(2) (measured 0.704-0.708 over 3 seeds)
    assert 0.65 * he.std() < w.std() < 0.76 * he.std()
    c = gl.get_layer("classifier").get_weights()[0]
    assert np.abs(c).max() <= np.sqrt(6 / (c.shape[0] + c.shape[1])) + 1e-7
    # He stays the default and gives the same weights as an explicit init="he_normal"
    explicit = build_model(shape, 4, ModelConfig(**base, init="he_normal"), seed=0)
    np.testing.assert_array_equal(explicit.get_layer("conv1").get_weights()[0], he)


def test_folding_removes_spatial_dropout_and_int8_export_verifies():
    from convert.quantize import calibration_set, to_tflite_int8, verify_int8

    cfg = ModelConfig(**TINY, dropout=0.3, spatial_dropout=0.2, init="glorot_uniform")
    m = build_model((16, 16), 3, cfg, seed=1)
    folded = fold_batchnorm(m, cfg)
    assert not any("dropout" in layer.name for layer in folded.layers)
    x = np.random.default_rng(2).uniform(-1, 1, (32, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(folded.predict(x[:4], verbose=0), m.predict(x[:4], verbose=0), atol=1e-5)
    report = verify_int8(to_tflite_int8(folded, calibration_set(x, 32)))
    assert report.ok and report.ops.get("CONV_2D") == 2
