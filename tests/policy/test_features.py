"""The featurizer: a fixed vocabulary, a fast path equal to scikit-learn's, documented columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from personalize.exceptions import ConfigError
from personalize.policy.features import DEFAULT_CATEGORIES, Featurizer

PHONE_AT_NIGHT: dict[str, Any] = {
    "device": "mobile", "os": "iOS", "daypart": "night", "weekend": "no",
    "business_hours": "no", "referrer": "search", "returning": "yes", "section": "home",
    "language": "en", "hour_sin": 0.3, "hour_cos": 0.9, "visits": 0.2, "visit_pageviews": 0.1,
    "conversions": 0.0, "recent_buyer": 0.0,
}


def augmented(features: dict[str, Any], featurizer: Featurizer) -> dict[str, Any]:
    """The dict scikit-learn's DictVectorizer would see for the same request."""
    out: dict[str, Any] = {"bias": 1.0}
    categories = featurizer.categories or DEFAULT_CATEGORIES
    for key, value in features.items():
        if isinstance(value, str):
            if value in categories.get(key, ()):
                out[key] = value
        elif value:
            out[key] = value
    for a, b in featurizer.interactions or (("device", "daypart"), ("referrer", "returning")):
        if features.get(a) in categories[a] and features.get(b) in categories[b]:
            out[f"{a}*{b}"] = f"{features[a]}*{features[b]}"
    return out


def test_dimension_and_names() -> None:
    featurizer = Featurizer().fit()
    names = featurizer.get_feature_names_out()
    assert 32 <= featurizer.n_features_out_ == len(names) <= 64
    assert {"bias", "device=mobile", "device*daypart=mobile*night",
            "referrer*returning=search*yes", "hour_sin"} <= set(names)


@pytest.mark.parametrize(
    "features",
    [
        pytest.param(PHONE_AT_NIGHT, id="phone-at-night"),
        pytest.param({**PHONE_AT_NIGHT, "device": "desktop", "daypart": "afternoon",
                      "referrer": "direct", "returning": "no", "weekend": "yes"}, id="desktop"),
        pytest.param({**PHONE_AT_NIGHT, "os": "Symbian", "device": "tv"}, id="unknown-values"),
        pytest.param({"referrer": "email"}, id="sparse"),
    ],
)
def test_fast_path_equals_dict_vectorizer(features: dict[str, Any]) -> None:
    featurizer = Featurizer().fit()
    x = featurizer.transform(features)
    expected = featurizer.vectorizer_.transform([augmented(features, featurizer)])[0]
    assert x.dtype == np.float64 and x.shape == (featurizer.n_features_out_,)
    np.testing.assert_array_equal(x, expected)


def test_unknown_values_set_no_column() -> None:
    featurizer = Featurizer().fit()
    x = featurizer.transform({**PHONE_AT_NIGHT, "os": "Symbian", "device": "tv"})
    shown = featurizer.explain(x)
    assert not any(name.startswith(("os=", "device=", "device*")) for name in shown)
    assert shown["daypart=night"] == 1.0 and shown["bias"] == 1.0


def test_batch_and_lazy_fit() -> None:
    rows = [PHONE_AT_NIGHT, {**PHONE_AT_NIGHT, "daypart": "morning"}]
    matrix = Featurizer().transform(rows)
    assert matrix.shape == (2, Featurizer().fit().n_features_out_)
    np.testing.assert_array_equal(matrix[0], Featurizer().transform(PHONE_AT_NIGHT))
    assert Featurizer().transform([]).shape == (0, matrix.shape[1])


def test_extra_categories_and_interactions() -> None:
    featurizer = Featurizer(
        categories={"device": ("mobile", "desktop"), "section": ("home", "support")},
        numeric=("visits",), interactions=[("device", "section")],
    ).fit()
    assert featurizer.get_feature_names_out() == [
        "bias", "device*section=desktop*home", "device*section=desktop*support",
        "device*section=mobile*home", "device*section=mobile*support", "device=desktop",
        "device=mobile", "section=home", "section=support", "visits"]
    assert featurizer.explain(featurizer.transform(PHONE_AT_NIGHT)) == {
        "bias": 1.0, "device*section=mobile*home": 1.0, "device=mobile": 1.0,
        "section=home": 1.0, "visits": 0.2}


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        pytest.param({"interactions": [("device", "colour")]}, "interactions",
                     id="bad-interaction"),
        pytest.param({"max_features": 40}, "max_features", id="too-many-columns"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Featurizer(**kwargs).fit()
    assert caught.value.key == key
