"""Our GLUE metrics against scikit-learn / scipy, on predictions with realistic structure."""
import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from d2v_ext.evaluation import glue_metrics as gm


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 500)
    preds = np.where(rng.random(500) < 0.7, labels, 1 - labels)  # ~70% correct
    assert gm.accuracy(preds, labels) == pytest.approx(accuracy_score(labels, preds))
    assert gm.f1_binary(preds, labels) == pytest.approx(f1_score(labels, preds))
    assert gm.matthews_corr(preds, labels) == pytest.approx(matthews_corrcoef(labels, preds))


def test_multiclass_mcc_matches_sklearn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    preds = np.where(rng.random(400) < 0.6, labels, rng.integers(0, 3, 400))
    assert gm.matthews_corr(preds, labels) == pytest.approx(matthews_corrcoef(labels, preds))


def test_degenerate_cases():
    assert gm.matthews_corr([1, 1, 1], [0, 1, 1]) == 0.0 == matthews_corrcoef([0, 1, 1], [1, 1, 1])
    assert gm.f1_binary([0, 0], [0, 0]) == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_correlations_match_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    gold = np.round(rng.uniform(0, 5, 300) * 5) / 5  # STS-B scores have many ties
    pred = gold + rng.normal(0, 1, 300)
    pred[:40] = 2.5  # ties in predictions too
    assert gm.pearson(pred, gold) == pytest.approx(pearsonr(pred, gold)[0])
    assert gm.spearman(pred, gold) == pytest.approx(spearmanr(pred, gold)[0])


def test_task_metric_names_and_scale():
    name, parts = gm.task_metric("mrpc", [1, 0, 1, 1], [1, 0, 0, 1])
    assert name == "acc_and_f1"
    assert parts["accuracy"] == pytest.approx(75.0) and parts["f1"] == pytest.approx(80.0)
    assert parts["acc_and_f1"] == pytest.approx(77.5)
    assert gm.task_metric("cola", [1, 0], [1, 0])[0] == "mcc"
    assert gm.task_metric("sst_2", [1, 0], [1, 1]) == ("accuracy", {"accuracy": 50.0})
