"""Our Half-Space Trees give River's scores exactly, and so does the anomaly detector."""

from __future__ import annotations

import pickle
import random

from river import anomaly, compose, preprocessing

from models.anomaly import AnomalyDetector, squash
from models.hst import HalfSpaceTrees


def points(n: int, seed: int, features: str = "abcde") -> list[dict[str, float]]:
    rng = random.Random(seed)
    # A shifting mixture, with a few far-out points, so masses move between windows.
    return [
        {name: min(max(rng.gauss(0.3 + 0.4 * (i > n // 2), 0.15), 0.0), 1.0) for name in features}
        if rng.random() > 0.02
        else {name: rng.random() for name in features}
        for i in range(n)
    ]


def test_scores_equal_rivers_through_many_windows():
    river = anomaly.HalfSpaceTrees(n_trees=25, height=8, window_size=100, seed=7)
    ours = HalfSpaceTrees(list("abcde"), n_trees=25, height=8, window_size=100, seed=7)
    scores = []
    for i, x in enumerate(points(1_050, seed=3)):
        expected = river.score_one(x)
        assert ours.score_one(x) == expected, f"point {i}"
        scores.append(expected)
        if i % 3:  # learn some points only, as the click detector does
            river.learn_one(x)
            ours.learn_one(x)
    assert len(set(scores)) > 100  # the comparison covered real, varied scores


def test_the_detector_scores_like_rivers_pipeline():
    river = (
        preprocessing.StandardScaler()
        | compose.FuncTransformer(lambda x: {name: squash(value) for name, value in x.items()})
        | anomaly.HalfSpaceTrees(n_trees=25, height=8, window_size=250, seed=42)
    )
    detector = AnomalyDetector(warm_up=300, seed=42)
    rng = random.Random(5)
    compared = 0
    for i in range(2_000):
        x = {"amount_vs_usual": rng.gauss(0, 1) * (8 if i % 97 == 0 else 1), "items": rng.gauss(2, 1)}
        score = detector.score_one(x)
        if score is not None:
            assert score == river.score_one(x)
            compared += 1
        detector.learn_one(x, score)
        river.learn_one(x)
    assert compared == 1_700


def test_a_pickled_forest_scores_like_the_original():
    """Checkpoints pickle the trees; the generated walk is rebuilt on load."""
    ours = HalfSpaceTrees(list("abcde"), n_trees=25, height=8, window_size=100, seed=7)
    sample = points(450, seed=4)
    for x in sample:
        ours.learn_one(x)
    copy = pickle.loads(pickle.dumps(ours))
    scores = [ours.score_one(x) for x in sample]
    assert [copy.score_one(x) for x in sample] == scores
    assert len(set(scores)) > 50


def test_a_forest_pickled_by_the_previous_version_loads_and_scores_alike():
    """Checkpoints written before the walks were compiled once hold three more attributes."""
    ours = HalfSpaceTrees(list("abcde"), n_trees=25, height=8, window_size=100, seed=7)
    sample = points(450, seed=4)
    for x in sample:
        ours.learn_one(x)
    state = ours.__getstate__()
    state |= {"_walk_feature": [[0]], "_walk_threshold": [[0.5]], "_first_leaf": 255}
    old = HalfSpaceTrees.__new__(HalfSpaceTrees)
    old.__setstate__(state)
    assert not {"_walk_feature", "_walk_threshold", "_first_leaf"} & set(vars(old))
    assert [old.score_one(x) for x in sample] == [ours.score_one(x) for x in sample]
