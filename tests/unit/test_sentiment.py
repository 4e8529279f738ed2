"""Review sentiment: English and Chinese, learned from ratings, predicted before learning."""

import pickle

import numpy as np
import pytest

from models.review_text import review_text
from models.sentiment import SentimentModel, customer_sentiment, positive_label, text_features


def stream(chinese: bool, n: int, seed: int) -> list[tuple[str, int]]:
    rng = np.random.default_rng(seed)
    ratings = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.1, 0.1, 0.1, 0.3, 0.4])
    return [(review_text(rng, int(rating), chinese), int(rating)) for rating in ratings]


def progressive_accuracy(model: SentimentModel, reviews: list[tuple[str, int]], last: float = 0.5) -> float:
    """Accuracy of the predictions made before learning, over the last part of the stream."""
    hits = []
    for number, (text, rating) in enumerate(reviews):
        score, label = model.predict(text), positive_label(rating)
        if score is not None and label is not None and number >= len(reviews) * (1 - last):
            hits.append((score >= 0.5) == label)
        model.learn(text, rating)
    return float(np.mean(hits))


def test_chinese_reviews_without_spaces_are_learned_from_character_ngrams():
    assert " " not in stream(chinese=True, n=5, seed=1)[0][0]
    assert progressive_accuracy(SentimentModel(), stream(chinese=True, n=1500, seed=2)) > 0.85


def test_english_reviews_are_learned_as_well():
    assert progressive_accuracy(SentimentModel(), stream(chinese=False, n=1500, seed=3)) > 0.85


def test_a_chinese_phrase_inside_a_longer_run_of_characters_still_counts():
    model = SentimentModel(warm_up=4)
    for _ in range(30):
        model.learn("质量很好非常满意", 5)
        model.learn("质量太差非常失望", 1)
    # Never seen as whole runs: only the shared character n-grams carry the tone.
    assert model.predict("我觉得质量很好") > 0.5 > model.predict("我觉得质量太差")


def test_rating_3_and_empty_texts_teach_nothing_and_cold_models_say_nothing():
    model = SentimentModel(warm_up=4)
    assert model.predict("great") is None
    assert model.learn("it is okay", 3) is False and model.learn("", 5) is False and model.learn("!!!", 1) is False
    assert (model.positives, model.negatives) == (0, 0)
    for _ in range(5):
        model.learn("great", 5)
    assert model.predict("great") is None  # no negative seen yet: no basis to score
    for _ in range(5):
        model.learn("awful", 1)
    assert model.predict("great") is not None and model.predict("...") is None


def test_same_stream_same_scores_and_pickle_keeps_them():
    reviews = stream(chinese=False, n=300, seed=4) + stream(chinese=True, n=300, seed=5)
    a, b = SentimentModel(), SentimentModel()
    for text, rating in reviews:
        a.learn(text, rating)
        b.learn(text, rating)
    probe = [text for text, _ in reviews[:50]]
    restored = pickle.loads(pickle.dumps(a))
    assert [a.predict(t) for t in probe] == [b.predict(t) for t in probe] == [restored.predict(t) for t in probe]


def test_features_are_unit_length_with_word_bigrams():
    x = text_features("not good, not good at all")
    assert sum(v * v for v in x.values()) == pytest.approx(1.0)
    assert text_features("good not") != text_features("not good")  # word order matters through bigrams
    assert text_features("") == {}


def test_customer_sentiment_weights_recent_reviews_most():
    value = None
    for review in (0.9, 0.9, 0.1, 0.1):
        value = customer_sentiment(value, review)
    assert 0.1 < value < 0.5
