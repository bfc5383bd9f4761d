"""TF-IDF + logistic regression over the same taxonomy: the yardstick every report compares against.

Trained per category on the rows that label it (the same masking as the transformer), so both models see
exactly the same supervision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from models.taxonomy import CATEGORIES


class TfidfClassifier:
    def __init__(self, *, version: str = "tfidf-baseline") -> None:
        self.version = version
        self.thresholds: dict[str, float] = dict.fromkeys(CATEGORIES, 0.5)
        self.vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=100_000
        )
        self.models: dict[str, LogisticRegression | float] = {}

    def fit(self, texts: Sequence[str], targets: np.ndarray, mask: np.ndarray) -> TfidfClassifier:
        x = self.vectorizer.fit_transform(texts)
        for j, c in enumerate(CATEGORIES):
            rows = np.flatnonzero(mask[:, j] > 0)
            y = targets[rows, j].astype(int)
            if len(set(y.tolist())) < 2:
                self.models[c] = float(y.mean()) if len(y) else 0.0  # constant prior
                continue
            m = LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced")
            m.fit(x[rows], y)
            self.models[c] = m
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        x = self.vectorizer.transform(list(texts))
        out = np.zeros((len(texts), len(CATEGORIES)), dtype=np.float32)
        for j, c in enumerate(CATEGORIES):
            m = self.models[c]
            out[:, j] = m if isinstance(m, float) else m.predict_proba(x)[:, 1]
        return out

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        self.thresholds = dict(thresholds)
