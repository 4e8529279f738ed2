"""Review sentiment on real reviews (Women's E-Commerce Clothing), online against batch.

Converts the data set (``pulse datasets womens-reviews``: title and text, file order),
leaves out the 3-star reviews and, for each review in order, has the online model
predict and then learn. Prints progressive accuracy and ROC AUC over the stream, and on
the last 20% compares the online predictions with a batch TF-IDF (1-2 grams) logistic
regression trained on the first 80% (scikit-learn, a dev dependency).

Target: online accuracy within 3 points of the batch accuracy on the same last 20%.

    python bench/sentiment_reviews.py [--source womens_clothing_ecommerce_reviews.csv.gz]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import models.numerics  # noqa: F401  (pins numpy's CPU dispatch: before numpy loads)

import numpy as np
import orjson

from models.evaluation import roc_auc
from models.eventlog import iter_lines
from models.sentiment import SentimentModel, positive_label
from stream.datasets import womens_reviews

TARGET_POINTS = 0.03


def reviews(source: Path | None) -> list[tuple[str, bool]]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "reviews.jsonl"
        print(womens_reviews.convert(log, source).summary(log))
        rows = [orjson.loads(raw) for _number, raw in iter_lines(log)]
    return [(row["text"], label) for row in rows if (label := positive_label(row["rating"])) is not None]


def batch(train: list[tuple[str, bool]], test: list[tuple[str, bool]]) -> tuple[float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    model = LogisticRegression(max_iter=2000, C=4.0)
    model.fit(vectorizer.fit_transform([t for t, _ in train]), [y for _, y in train])
    p = model.predict_proba(vectorizer.transform([t for t, _ in test]))[:, 1]
    y = np.array([y for _, y in test])
    return float(np.mean((p >= 0.5) == y)), roc_auc(y, p)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="womens_clothing_ecommerce_reviews.csv(.gz)")
    args = parser.parse_args()
    data = reviews(args.source)
    model, predictions = SentimentModel(), []
    started = time.perf_counter()
    for text, label in data:
        predictions.append(model.predict_then_learn(text, 5 if label else 1))
    rate = len(data) / (time.perf_counter() - started)
    split = int(len(data) * 0.8)
    y = np.array([label for _, label in data])
    scored = np.array([p is not None for p in predictions])
    p = np.array([0.5 if v is None else v for v in predictions])
    print(f"{len(data):,} reviews rated 1-2 or 4-5 ({y.mean():.1%} positive); online model {rate:,.0f} reviews/s")
    whole = float(np.mean(((p >= 0.5) == y)[scored]))
    print(f"  online over the whole stream: accuracy {whole:.4f}, ROC AUC {roc_auc(y[scored], p[scored]):.4f}")
    tail = slice(split, None)
    online_acc, online_auc = float(np.mean((p[tail] >= 0.5) == y[tail])), roc_auc(y[tail], p[tail])
    batch_acc, batch_auc = batch(data[:split], data[split:])
    print(f"last 20% ({len(data) - split:,} reviews):")
    print(f"  online (predict, then learn)           accuracy {online_acc:.4f}  ROC AUC {online_auc:.4f}")
    print(f"  batch TF-IDF 1-2 grams + LR, first 80%  accuracy {batch_acc:.4f}  ROC AUC {batch_auc:.4f}")
    gap = batch_acc - online_acc
    verdict = "PASS" if gap <= TARGET_POINTS else "FAIL"
    print(f"{verdict}  online accuracy within {TARGET_POINTS * 100:.0f} points of batch (gap {gap * 100:+.2f} points)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
