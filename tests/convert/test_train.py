"""Training options of convert.train: the weight average (Polyak averaging) and its config."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from convert.train import TrainConfig, _weight_average_class, fit  # noqa: E402


def test_weight_average_range_is_checked_with_the_bad_value():
    with pytest.raises(ValueError, match=r"weight_average 1.0 out of range \[0, 1\)"):
        TrainConfig(weight_average=1.0)
    with pytest.raises(ValueError, match="-0.1"):
        TrainConfig(weight_average=-0.1)
    assert TrainConfig().weight_average == 0.0  # off unless asked


def _tiny_model(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu")(inp)
    x = keras.layers.BatchNormalization()(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    return model


def test_average_is_the_warmed_up_ema_of_every_step_and_raw_weights_resume_each_epoch():
    import keras

    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    model = _tiny_model()
    steps, epoch_starts = [], []

    class Recorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append([w.astype(np.float64) for w in self.model.get_weights()])

        def on_epoch_begin(self, epoch, logs=None):
            epoch_starts.append(self.model.get_weights())

    decay = 0.9
    averager = _weight_average_class()(decay)
    initial = [w.astype(np.float64) for w in model.get_weights()]
    # Recorder after the averager: at an epoch's start it must see the raw weights back.
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[averager, Recorder()])
    assert len(steps) == 8
    expect = initial
    for t, w in enumerate(steps, start=1):
        d = min(decay, (1.0 + t) / (10.0 + t))
        expect = [d * e + (1.0 - d) * v for e, v in zip(expect, w)]
    # After fit the averaged weights (BatchNorm moving statistics too) are in the model.
    got = model.get_weights()
    assert len(got) == 8  # two kernels and biases; gamma, beta, moving mean and variance
    for g, e in zip(got, expect):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got[0], steps[-1][0])  # and they are not the raw last step
    # The second epoch trained on from the raw weights of the first, not from the average.
    for a, b in zip(epoch_starts[1], steps[3]):
        np.testing.assert_array_equal(a, b.astype(a.dtype))


def test_fit_with_weight_average_selects_and_keeps_averaged_weights():
    rng = np.random.default_rng(2)
    q = rng.integers(-128, 128, size=(48, 4, 4), dtype=np.int8)
    y = np.arange(48) % 3
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 4))
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, out)
    res = fit(model, q, y, q[:12], y[:12], TrainConfig(epochs=2, batch_size=16, patience=2, verbose=0,
                                                       weight_average=0.5))
    assert res.best_epoch in (1, 2)
    assert np.isfinite(res.best_val_macro_f1)
