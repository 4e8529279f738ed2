import random

import pytest

from models.evaluation import ClassifierQuality, RegressorQuality


def test_classifier_quality_is_perfect_for_a_perfect_ranker_and_windowed():
    quality = ClassifierQuality(window=100)
    for i in range(300):
        label = i % 2 == 0
        quality.update(label, 0.9 if label else 0.1)
    report = quality.report()
    assert report["roc_auc"] == pytest.approx(1.0)
    assert report["accuracy"] == pytest.approx(1.0)
    assert report["log_loss"] == pytest.approx(0.10536, rel=1e-3)
    assert report["labels"] == 300
    for i in range(100):  # the window forgets the good past
        quality.update(i % 2 == 0, 0.1 if i % 2 == 0 else 0.9)
    assert quality.report()["roc_auc"] == pytest.approx(0.0)


def test_regressor_quality_mae_and_rank_correlation():
    quality = RegressorQuality(window=10)
    assert quality.report() == {}
    for value in range(10):
        quality.update(float(value), float(value) * 2)
    report = quality.report()
    assert report["mae"] == pytest.approx(4.5)
    assert report["spearman"] == pytest.approx(1.0)


def test_classifier_quality_window_agrees_with_rivers_rolling_metrics():
    """Log loss and accuracy over the window, as River's rolling metrics give them."""
    from river import metrics, utils

    rng = random.Random(7)
    quality = ClassifierQuality(window=500)
    log_loss = utils.Rolling(metrics.LogLoss, window_size=500)
    accuracy = utils.Rolling(metrics.Accuracy, window_size=500)
    for _ in range(1_700):
        label = rng.random() < 0.3
        probability = rng.choice([0.0, 1.0, 0.5, rng.random()])
        quality.update(label, probability)
        log_loss.update(label, probability)
        accuracy.update(label, probability >= 0.5)
    report = quality.report()
    assert report["log_loss"] == pytest.approx(log_loss.get(), rel=1e-9)
    assert report["accuracy"] == pytest.approx(accuracy.get(), rel=1e-12)
    assert report["labels"] == 1_700


def test_classifier_quality_holds_a_bounded_backlog_when_never_reported():
    """River's rolling AUC buffers updates until read; unread, a long backtest's grew without end."""
    quality = ClassifierQuality(window=100)
    for i in range(1_050):
        quality.update(i % 3 == 0, (i % 7) / 7)
    assert len(quality.roc_auc._buf_labels) == 50  # updates since the last read, at 1,000


def test_classifier_quality_auc_is_the_same_read_once_or_along_the_way():
    rng = random.Random(3)
    pairs = [(rng.random() < 0.4, rng.random()) for _ in range(2_500)]
    along, once = ClassifierQuality(window=300), ClassifierQuality(window=300)
    for label, probability in pairs:
        along.update(label, probability)
        along.report()
    for label, probability in pairs:
        once.update(label, probability)
    assert once.report()["roc_auc"] == along.report()["roc_auc"]
