"""Turn :attr:`Context.features <personalize.context.Context.features>` into the bandit's vector.

>>> featurizer = Featurizer().fit()
>>> x = featurizer.transform(context.features)   # float64, shape (50,)
>>> featurizer.get_feature_names_out()[:3]
['bias', 'business_hours=yes', 'conversions']

The vocabulary is fixed and built once by scikit-learn's
:class:`~sklearn.feature_extraction.DictVectorizer` from the *declared* values
of each categorical key, the numeric keys, the interactions and a bias term, so
column ``j`` means the same thing in every process and after every restart: the
statistics that workers share (``A``, ``b``) stay aligned.

Per request, calling ``DictVectorizer.transform`` costs ~50 µs (input checks,
a sparse matrix, then densifying), a sixth of the whole middleware budget. So
:meth:`Featurizer.transform_one` instead walks small lookup tables compiled from
the fitted ``vocabulary_`` dict: about a dozen dictionary hits and item sets on
a zeroed array. :meth:`Featurizer.transform` goes through the same tables, and
the tests check both against ``DictVectorizer.transform``.

Encoding, by design:

- a categorical key becomes one indicator per declared value; a value not
  declared (a new OS, a site section nobody listed) sets no column, so it falls
  back to the bias term instead of growing the model;
- a yes/no key declares only ``"yes"``: ``"no"`` is the baseline;
- numeric keys are copied as they are: ``Context.features`` already squashes
  them to [0, 1], so no feature dominates the ridge prior;
- an interaction ``(a, b)`` adds one indicator per pair of declared values,
  because the linear model cannot learn "phones at night" or "returning visitors
  from search" from ``device`` and ``daypart`` alone. The defaults are
  device × daypart and referrer × returning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import product
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer

from ..exceptions import ConfigError

__all__ = ["DEFAULT_CATEGORIES", "DEFAULT_INTERACTIONS", "DEFAULT_NUMERIC", "Featurizer"]

DEFAULT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "device": ("mobile", "tablet", "desktop"),
    "os": ("iOS", "Android", "Windows", "Mac OS X", "Linux"),
    "daypart": ("night", "morning", "afternoon", "evening"),
    "weekend": ("yes",),
    "business_hours": ("yes",),
    "referrer": ("direct", "internal", "search", "social", "email", "paid", "chatbot", "referral"),
    "returning": ("yes",),
}
DEFAULT_NUMERIC: tuple[str, ...] = (
    "hour_sin", "hour_cos", "visits", "visit_pageviews", "conversions", "recent_buyer",
)
DEFAULT_INTERACTIONS: tuple[tuple[str, str], ...] = (
    ("device", "daypart"), ("referrer", "returning"),
)
BIAS = "bias"


class Featurizer:
    """A fixed, documented feature map from context features to a dense vector.

    :param categories: declared values of each categorical key; other values set
        no column. ``None`` means :data:`DEFAULT_CATEGORIES` (add e.g. a site's
        ``section`` values by passing ``{**DEFAULT_CATEGORIES, "section": (...)}``).
    :param numeric: keys copied as numbers; ``None`` means :data:`DEFAULT_NUMERIC`.
    :param interactions: pairs of categorical keys crossed value by value;
        ``None`` means :data:`DEFAULT_INTERACTIONS`.
    :param max_features: refuse a vocabulary larger than this, because the
        bandit's cost per decision grows with the square of the dimension.
    """

    def __init__(
        self,
        *,
        categories: Mapping[str, Sequence[str]] | None = None,
        numeric: Sequence[str] | None = None,
        interactions: Sequence[tuple[str, str]] | None = None,
        max_features: int = 64,
    ) -> None:
        self.categories = categories
        self.numeric = numeric
        self.interactions = interactions
        self.max_features = max_features

    def fit(self, X: Any = None, y: Any = None) -> Featurizer:
        """Build the vocabulary from the declared values (``X`` and ``y`` are ignored).

        :param X: unused; present so the featurizer fits in a scikit-learn pipeline.
        :param y: unused.
        """
        categories = dict(DEFAULT_CATEGORIES if self.categories is None else self.categories)
        numeric = tuple(DEFAULT_NUMERIC if self.numeric is None else self.numeric)
        interactions = tuple(
            DEFAULT_INTERACTIONS if self.interactions is None else self.interactions
        )
        for a, b in interactions:
            for key in (a, b):
                if key not in categories:
                    raise ConfigError("interactions", f"expected categorical keys, got {key!r} "
                                      f"in {(a, b)!r}; declare its values in `categories`")
        samples: list[dict[str, str | float]] = [{BIAS: 1.0}, {k: 1.0 for k in numeric}]
        samples += [{key: value} for key, values in categories.items() for value in values]
        samples += [
            {f"{a}*{b}": f"{va}*{vb}"}
            for a, b in interactions
            for va, vb in product(categories[a], categories[b])
        ]
        vectorizer = DictVectorizer(sparse=False, sort=True).fit(samples)
        if len(vectorizer.vocabulary_) > self.max_features:
            raise ConfigError("max_features", f"the vocabulary has {len(vectorizer.vocabulary_)} "
                              f"columns, more than max_features={self.max_features}; declare "
                              "fewer values or interactions, or raise the limit")
        vocabulary: dict[str, int] = {k: int(v) for k, v in vectorizer.vocabulary_.items()}
        self.vectorizer_ = vectorizer
        self.vocabulary_ = vocabulary
        self.n_features_out_ = len(vocabulary)
        self._bias = vocabulary[BIAS]
        self._numeric = [(key, vocabulary[key]) for key in numeric]
        self._categorical = [
            (key, {v: vocabulary[f"{key}={v}"] for v in values})
            for key, values in categories.items()
        ]
        self._interactions = [
            (a, b, {(va, vb): vocabulary[f"{a}*{b}={va}*{vb}"]
                    for va, vb in product(categories[a], categories[b])})
            for a, b in interactions
        ]
        return self

    def transform_one(self, features: Mapping[str, Any]) -> np.ndarray:
        """The vector of one request's features (float64, shape ``(n_features_out_,)``).

        The vocabulary depends only on the hyperparameters, so an unfitted
        featurizer fits itself on first use.

        :param features: ``Context.features``: categorical strings and numbers in [0, 1].
            Missing keys set no column.
        """
        if not hasattr(self, "n_features_out_"):
            self.fit()
        x = np.zeros(self.n_features_out_)
        x[self._bias] = 1.0
        get = features.get
        for key, column in self._numeric:
            value = get(key)
            if value:
                x[column] = value
        for key, table in self._categorical:
            found = table.get(get(key))  # type: ignore[arg-type]
            if found is not None:
                x[found] = 1.0
        for a, b, pairs in self._interactions:
            found = pairs.get((get(a), get(b)))  # type: ignore[arg-type]
            if found is not None:
                x[found] = 1.0
        return x

    def transform(self, X: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> np.ndarray:
        """One request's vector, or a matrix with one row per request.

        :param X: one ``Context.features`` dict (gives a 1-D vector, as
            :meth:`transform_one`), or an iterable of them (gives ``n × n_features_out_``).
        """
        if isinstance(X, Mapping):
            return self.transform_one(X)
        rows = [self.transform_one(features) for features in X]
        if not rows:
            return np.zeros((0, len(self.get_feature_names_out())))
        return np.vstack(rows)

    def get_feature_names_out(self, input_features: Any = None) -> list[str]:
        """Column names, e.g. ``"device=mobile"``, ``"device*daypart=mobile*night"``."""
        if not hasattr(self, "vectorizer_"):
            self.fit()
        return [str(name) for name in self.vectorizer_.get_feature_names_out()]

    def explain(self, x: np.ndarray) -> dict[str, float]:
        """The non-zero columns of a vector by name, for decision reasons and debugging.

        :param x: a vector made by this featurizer.
        """
        names = self.get_feature_names_out()
        return {names[j]: float(x[j]) for j in np.flatnonzero(x)}
