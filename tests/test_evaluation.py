"""nnfast.evaluation: metrics, reports, backend comparison."""

import numpy as np
import pytest

import nnfast
from nnfast import evaluation


def test_accuracy_and_confusion_matrix_by_hand():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    assert evaluation.accuracy(y_true, y_pred) == pytest.approx(5 / 7)
    C = evaluation.confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(C, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    assert C.dtype == np.int64 and C.sum() == 7
    scores = evaluation.per_class_scores(y_true, y_pred)
    np.testing.assert_allclose(scores["precision"], [1 / 2, 2 / 3, 1.0])
    np.testing.assert_allclose(scores["recall"], [1 / 2, 1.0, 2 / 3])
    np.testing.assert_array_equal(scores["support"], [2, 2, 3])


def test_classification_report_uses_given_names():
    y_true = np.array([0, 9, 9, 0])
    y_pred = np.array([0, 9, 0, 0])
    text = evaluation.classification_report(y_true, y_pred, labels=[0, 9],
                                            target_names=["one", "zero"])
    assert "one" in text and "zero" in text and "precision" in text
    assert "0.750" in text  # accuracy row


def test_evaluate_bundles_everything_and_prints():
    y = np.array(["cat", "dog", "dog", "cat"])
    p = np.array(["cat", "dog", "cat", "cat"])
    ev = evaluation.evaluate(y, p, cost=0.5)
    assert ev.accuracy == 0.75
    assert ev.labels.tolist() == ["cat", "dog"]
    np.testing.assert_array_equal(ev.confusion, [[2, 0], [1, 1]])
    text = str(ev)
    assert "accuracy: 75.00%" in text and "0.500000" in text and "confusion matrix" in text


@pytest.mark.parametrize("bad", [(np.zeros(3), np.zeros(4)), (np.zeros((2, 2)), np.zeros((2, 2))),
                                 (np.zeros(0), np.zeros(0))])
def test_mismatched_labels_are_rejected(bad):
    with pytest.raises(ValueError):
        evaluation.accuracy(*bad)


def test_compare_backends_times_and_checks_agreement(digits):
    X, y = digits
    rows = evaluation.compare_backends(X[:300], y[:300], [64, 10, 10], backends=["numpy", "loop"],
                                       min_time=0.02, max_repeats=3)
    assert [r["backend"] for r in rows] == ["numpy", "loop"]
    for r in rows:
        assert r["error"] is None
        assert r["median_ms"] > 0 and 1 <= r["repeats"] <= 3
        assert r["cost_diff"] < 1e-10 and r["grad_diff"] < 1e-10
    assert rows[0]["speedup"] == 1.0
    table = evaluation.format_backend_table(rows)
    assert "vs numpy" in table and "loop" in table


def test_compare_backends_reports_a_failing_backend(digits):
    X, y = digits
    rows = evaluation.compare_backends(X[:50], y[:50], [64, 10], backends=["numpy", "nope"],
                                       min_time=0.01)
    assert rows[1]["error"] and "backend must be one of" in rows[1]["error"]
    assert "failed" in evaluation.format_backend_table(rows)


def test_evaluation_repr_is_one_line_and_str_is_the_report():
    from nnfast.evaluation import evaluate

    ev = evaluate(np.array([0, 1, 1, 2, 2, 2]), np.array([0, 1, 2, 2, 2, 1]), cost=0.25)
    assert repr(ev) == "Evaluation(accuracy=0.6667, classes=3, examples=6, cost=0.25)"
    assert "confusion matrix" in str(ev) and ev.report in str(ev)
