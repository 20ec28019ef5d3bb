"""The class prior of the window call (edge.runtime.prior): Bayes' rule with changed priors,
validation, the bundle's key, and what it does in the pipeline."""

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convert.taxonomy import LABELS
from edge.bundle import BundleError, load_bundle
from edge.runtime.config import RuntimeConfig
from edge.runtime.pipeline import Pipeline
from edge.runtime.prior import ClassPrior, check_weights
from tests.edge.runtime_standins import LABELS as STANDIN_LABELS
from tests.edge.runtime_standins import EnergyFrontend, bursts, standin_bundle

VOL = LABELS.index("voluntary_muap")
FIB = LABELS.index("fibrillation")


def test_no_weights_is_the_identity():
    p = np.random.default_rng(0).dirichlet(np.ones(len(LABELS)), 5)
    prior = ClassPrior.from_weights(LABELS, None)
    assert prior.is_identity and prior.named() == {}
    np.testing.assert_array_equal(prior.apply(p), p)


def test_bayes_rule_with_the_voluntary_prior_raised():
    prior = ClassPrior.from_weights(LABELS, {"voluntary_muap": 4.0})
    p = np.zeros(len(LABELS))
    p[FIB], p[VOL], p[0] = 0.6, 0.2, 0.2
    q = prior.apply(p)
    # 4 · 0.2 = 0.8 against 0.6 and 0.2: normalised by 1.6
    assert q[VOL] == pytest.approx(0.5) and q[FIB] == pytest.approx(0.375) and q[0] == pytest.approx(0.125)
    assert int(np.argmax(q)) == VOL and int(np.argmax(p)) == FIB
    assert p[FIB] == 0.6  # the input is not changed


def test_rows_of_zeros_stay_zeros_and_batches_work():
    prior = ClassPrior.from_weights(LABELS, {"voluntary_muap": 4.0})
    p = np.zeros((3, len(LABELS)))
    p[1, FIB] = 1.0
    q = prior.apply(p)
    assert not q[0].any() and q[1, FIB] == 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=len(LABELS), max_size=len(LABELS)).filter(lambda v: sum(v) > 1e-6),
       st.floats(0.01, 100.0))
def test_prior_is_a_proper_reweighting(raw, w):
    p = np.asarray(raw) / sum(raw)
    q = ClassPrior.from_weights(LABELS, {"voluntary_muap": w}).apply(p)
    assert q.sum() == pytest.approx(1.0)
    assert np.all(q >= 0)
    # the other classes keep their ratios; voluntary gains exactly when w > 1
    others = [k for k in range(len(LABELS)) if k != VOL and p[k] > 1e-9]
    for a, b in zip(others, others[1:]):
        assert q[a] / q[b] == pytest.approx(p[a] / p[b])
    if 0 < p[VOL] < 1:
        assert (q[VOL] > p[VOL]) == (w > 1) or math.isclose(q[VOL], p[VOL], rel_tol=1e-9)


@pytest.mark.parametrize("weights, words", [
    ({"voluntary": 4.0}, "'voluntary' is not one of the bundle's labels"),
    ({"voluntary_muap": 0.0}, "allowed range is 0.01..100"),
    ({"voluntary_muap": 1000}, "allowed range is 0.01..100"),
    ({"voluntary_muap": float("nan")}, "allowed range"),
    ({"voluntary_muap": True}, "allowed range"),
    ({"voluntary_muap": "4"}, "allowed range"),
    ([4.0], "must map labels to factors"),
])
def test_bad_weights_are_named(weights, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(".", r"\.")):
        check_weights(weights, LABELS)


def test_the_shipped_bundle_states_its_prior():
    b = load_bundle("default")
    assert ClassPrior.for_bundle(b).named() == {"voluntary_muap": 4.0}


def _copy_shipped(tmp_path, prior):
    import shutil

    src = load_bundle("default").path
    dst = tmp_path / "b"
    shutil.copytree(src, dst)
    m = json.loads((dst / "manifest.json").read_text())
    m["decision_prior"] = prior
    (dst / "manifest.json").write_text(json.dumps(m))
    return dst


@pytest.mark.parametrize("prior, words", [
    ({"weights": {"voluntary_muap": -1}}, "decision_prior.weights['voluntary_muap'] = -1"),
    ({"weights": {"tremor": 2}}, "'tremor' is not one of the bundle's labels"),
    ([1, 2], "manifest decision_prior must be a JSON object"),
])
def test_a_bad_prior_in_a_manifest_is_a_one_line_bundle_error(tmp_path, prior, words):
    with pytest.raises(BundleError) as e:
        load_bundle(_copy_shipped(tmp_path, prior))
    assert words in str(e.value) and "\n" not in str(e.value)


class _FibOrVoluntary:
    """Loud windows: fibrillation 0.75 against voluntary 0.2 (a call the prior of 4 turns over);
    quiet ones rest."""

    def predict(self, window):
        p = np.zeros(len(STANDIN_LABELS))
        names = dict(zip(STANDIN_LABELS, range(len(p))))
        if int(window[:, 0].max()) > 1000:
            p[names["fibrillation"]], p[names["voluntary_muap"]], p[names["rest"]] = 0.75, 0.2, 0.05
        else:
            p[names["rest"]] = 1.0
        return p


def _pipe(prior, config):
    b = standin_bundle(8000)
    if prior is not None:
        b = dataclasses.replace(b, manifest={**b.manifest, "decision_prior": {"weights": prior}})
    return Pipeline(b, _FibOrVoluntary(), config, 8000, frontend=EnergyFrontend(b.frontend_config))


def _alerts(pipe):
    out = []
    pcm = bursts(20.0, 8000, [5.0])
    for i in range(0, pcm.size, 400):
        from types import SimpleNamespace

        out += pipe.feed(SimpleNamespace(first_index=i, samples=pcm[i:i + 400]))
    return [d for d in out if d.label == "fibrillation"]


def test_the_pipeline_decides_under_the_bundles_prior_and_can_be_told_not_to():
    assert _alerts(_pipe(None, RuntimeConfig()))  # no prior: the model's call raises an alert
    with_prior = _pipe({"voluntary_muap": 4.0}, RuntimeConfig())
    assert with_prior.prior is not None and _alerts(with_prior) == []
    # every loud window was a fibrillation call the prior turned voluntary: counted, as the guard's are
    assert with_prior.counters.prior_windows > 0
    off = _pipe({"voluntary_muap": 4.0}, RuntimeConfig(class_prior=False))
    assert off.prior is None and _alerts(off) and off.counters.prior_windows == 0


def test_the_toml_key_turns_it_off(tmp_path):
    p = tmp_path / "rt.toml"
    p.write_text("[detector]\nclass_prior = false\n")
    assert RuntimeConfig.from_toml(p).class_prior is False
    p.write_text("[detector]\nclass_prior = 2\n")
    with pytest.raises(ValueError, match="detector.class_prior"):
        RuntimeConfig.from_toml(p)


def test_the_stats_line_and_summary_count_calls_the_prior_turned_normal():
    from edge.runtime.pipeline import PipelineCounters
    from edge.runtime.stats import StatsMeter
    from edge.runtime.summary import RunSummary

    line = StatsMeter(every_s=0).snapshot(prior_windows=7, irregular_windows=2).line()
    assert "2 as irregular, 7 turned normal by the class prior)" in line
    s = RunSummary(exit_code=0, reason="end")
    s.count(PipelineCounters(windows=10, prior_windows=3))
    assert s.prior_windows == 3
