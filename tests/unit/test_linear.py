"""OnlineLogit against River's StandardScaler | LogisticRegression, bit for bit."""

import random

from river import linear_model, optim, preprocessing

from models.churn import ChurnModel
from models.linear import OnlineLogit

BASE = tuple(f"f{i}" for i in range(11))
STACKED = (*BASE, "g0", "g1", "g2")  # features that join later, as BG/NBD's do for churn


def _river(learning_rate: float, l2: float):
    return preprocessing.StandardScaler() | linear_model.LogisticRegression(optim.SGD(learning_rate), l2=l2)


def _input(rng: random.Random, names: tuple[str, ...], n: int) -> dict[str, float]:
    values = [0.0 if rng.random() < 0.2 else rng.gauss(0.0, 1.0) * (i + 1) for i in range(len(names))]
    if n % 7 == 0:
        values[3] = 1e6  # one extreme feature drives the raw score past the clipped ranges
    return dict(zip(names, values, strict=True))


def test_scores_weights_and_moments_equal_rivers_as_the_feature_set_grows():
    rng = random.Random(7)
    river, ours = _river(0.01, 1e-4), OnlineLogit(0.01, 1e-4)
    for n in range(6_000):
        x = _input(rng, BASE if n < 2_000 else STACKED, n)
        if n % 3 == 0:  # scored before learning, as the engine does; the new features unseen at first
            assert ours.probability(x) == river.predict_proba_one(x)[True]
            assert ours.explain(x)[0] == ours.probability(x)
        label, weight = rng.random() < 0.3, 1.0 / rng.randint(1, 9)
        river.learn_one(x, label, w=weight)  # the pipeline lets the scaler learn before scaling
        ours.learn(x, x.values(), label, weight)
    classifier, scaler = river["LogisticRegression"], river["StandardScaler"]
    assert ours.intercept == classifier.intercept
    assert [ours.weights[ours.slots[name]] for name in STACKED] == [classifier.weights[name] for name in STACKED]
    assert [ours.means[ours.slots[name]] for name in STACKED] == [scaler.means[name] for name in STACKED]
    assert [ours.variances[ours.slots[name]] for name in STACKED] == [scaler.vars[name] for name in STACKED]
    assert [ours.counts[ours.slots[name]] for name in STACKED] == [scaler.counts[name] for name in STACKED]


def test_churn_reasons_are_the_features_pushing_the_risk_up_most():
    rng = random.Random(3)
    river, model = _river(0.01, 1e-4), ChurnModel(warm_up=10)
    for n in range(3_000):
        x = _input(rng, BASE, n + 1)
        label = x["f0"] + x["f1"] > 0  # risk rises with f0 and f1
        river.learn_one(x, label)
        model.learn_one(x, float(label))
    x = {**dict.fromkeys(BASE, 0.0), "f0": 2.0, "f1": 3.0, "f2": -1.0}
    risk, reasons = model.score_with_reasons(x)
    assert risk == river.predict_proba_one(x)[True]
    scaled = river["StandardScaler"].transform_one(x)
    weights = river["LogisticRegression"].weights
    expected = sorted(((weights[name] * value, name) for name, value in scaled.items()), reverse=True)[:3]
    assert reasons == [f"{name}={x[name]:.3g}" for contribution, name in expected if contribution > 0]
    assert reasons[:2] == ["f1=3", "f0=2"]
