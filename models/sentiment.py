"""Review sentiment: P(positive) of a review's text, learned online from its rating.

Features are hashed, so memory is fixed whatever the vocabulary: lower-cased word
tokens, word bigrams ("not good" is not "good") and character n-grams inside each
token: trigrams for alphabetic words (robust to typos and inflections), and 1..3-grams
for runs of CJK characters, which have no spaces, so a Chinese review is split into
the short character sequences its words are made of. Counts are log-scaled and the
vector L2-normalised. The hash is crc32 (Python's ``hash`` of a string changes from
process to process, and the worker and a backtest must agree).

A logistic regression with AdaGrad (per-feature step sizes: rare, telling n-grams learn
fast, frequent ones settle) learns from ratings: 4 and 5 positive, 1 and 2 negative,
3 is skipped (mixed reviews teach noise). The caller predicts before it learns, so the
score of a review never saw its own rating. On the Women's Clothing reviews
(bench/sentiment_reviews.py) it is as accurate on the last 20% as a batch TF-IDF
logistic regression trained on the first 80%.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib

from river import linear_model, optim

BUCKETS = 1 << 20
WORD = re.compile(r"\w+")
CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
CUSTOMER_ALPHA = 0.3


def positive_label(rating: int) -> bool | None:
    """Ratings 4-5 positive, 1-2 negative, 3 none."""
    if rating >= 4:
        return True
    if rating <= 2:
        return False
    return None


def text_features(text: str) -> dict[int, float]:
    """Hashed word, word-bigram and character n-gram features, log counts, unit length."""
    words = WORD.findall(text.lower())
    counts: dict[int, int] = {}

    def add(token: str) -> None:
        bucket = zlib.crc32(token.encode()) % BUCKETS
        counts[bucket] = counts.get(bucket, 0) + 1

    for word in words:
        add("w " + word)
        if CJK.search(word):
            for n in (1, 2, 3):
                for i in range(len(word) - n + 1):
                    add("c " + word[i : i + n])
        else:
            padded = f" {word} "
            for i in range(len(padded) - 2):
                add("c " + padded[i : i + 3])
    for first, second in itertools.pairwise(words):
        add(f"b {first} {second}")
    if not counts:
        return {}
    scaled = {bucket: 1.0 + math.log(count) for bucket, count in counts.items()}
    norm = math.sqrt(sum(value * value for value in scaled.values()))
    return {bucket: value / norm for bucket, value in scaled.items()}


class SentimentModel:
    """Online text classifier; ``predict`` is ``None`` until it has seen both tones.

    >>> model = SentimentModel(warm_up=4)
    >>> for _ in range(20):
    ...     _ = model.learn("love it, great quality", 5)
    ...     _ = model.learn("poor quality, very disappointed", 1)
    >>> model.predict("great, love it") > 0.5 > model.predict("disappointed, poor")
    True
    """

    def __init__(self, learning_rate: float = 0.5, warm_up: int = 50) -> None:
        self.warm_up = warm_up
        self.classifier = linear_model.LogisticRegression(optimizer=optim.AdaGrad(learning_rate), intercept_lr=0.01)
        self.positives = 0
        self.negatives = 0

    @property
    def warm(self) -> bool:
        return self.positives + self.negatives >= self.warm_up and min(self.positives, self.negatives) >= 5

    def predict(self, text: str | None) -> float | None:
        """P(positive), or ``None`` while cold or for a review without words."""
        return self._predict(text_features(text) if text else {})

    def learn(self, text: str | None, rating: int) -> bool:
        """Learn from a rated review; ``False`` when it teaches nothing (rating 3, no words)."""
        return self._learn(text_features(text) if text else {}, rating)

    def predict_then_learn(self, text: str | None, rating: int) -> float | None:
        """``predict`` then ``learn`` on one review, its text read once."""
        x = text_features(text) if text else {}
        score = self._predict(x)
        self._learn(x, rating)
        return score

    def _predict(self, x: dict[int, float]) -> float | None:
        if not self.warm or not x:
            return None
        return float(self.classifier.predict_proba_one(x).get(True, 0.5))

    def _learn(self, x: dict[int, float], rating: int) -> bool:
        label = positive_label(rating)
        if label is None or not x:
            return False
        self.classifier.learn_one(x, label)
        self.positives += label
        self.negatives += not label
        return True


def customer_sentiment(previous: float | None, review: float, alpha: float = CUSTOMER_ALPHA) -> float:
    """Exponentially weighted sentiment of a customer's reviews: recent reviews count most.

    >>> customer_sentiment(None, 0.9)
    0.9
    >>> round(customer_sentiment(0.9, 0.1), 2)
    0.66
    """
    return review if previous is None else previous + alpha * (review - previous)
