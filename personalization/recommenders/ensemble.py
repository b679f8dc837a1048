"""The ensemble: RP3beta item-item, EASE, the content model and implicit's ALS, each scaled to 0..1 and added."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from .base import Context, Interactions, Recommender
from .content import Content
from .factorization import ImplicitALS
from .hybrid import blend
from .itemknn import ItemKNN
from .linear import EASE, EASE_MAX_ITEMS
from .registry import register

# Chosen on the online retail validation split (the train period's last 10% of time; 765 users;
# personalization/evaluation/tuning.py, test figure beside each), NDCG@10 on validation:
# - RP3beta on binary history plus half of EASE on log history: 0.1241 (773 hits; test 0.1273).
#   EASE at full or twice the weight 0.1217 / 0.1173; RP3beta alone 0.1166; K 20/30/50 fell to
#   0.1202/0.1172/0.1123; EASE l2 300/3000, a time-decayed EASE, user-user or session-kNN added
#   stayed within 0.003 or fell; trending at 0.05/0.1 fell to 0.1223/0.1215.
# - The content model (product descriptions) added at 0.1/0.2/0.3/0.4/0.6/1.0: 0.1250/0.1275/
#   0.1278/0.1291/0.1287/0.1230. It knows items by what they are, where the behavioural models
#   only know who bought them together: the two err differently.
# - ALS added at 0.25 beside content at 0.3: 0.1304 (804 hits; test 0.1310), seeds 1 and 2 0.1306
#   and 0.1296. Content 0.4/0.25 with ALS 0.25 0.1296/0.1292, ALS 0.15/0.35 0.1298/0.1285, ALS
#   0.5 0.1267; ALS without content 0.1242. Differences below 0.003 are about 20 hits: noise.
DEFAULTS: dict[str, Any] = {
    "itemknn": {"history": "binary"},
    "ease": {"history": "log", "train_half_life_days": None},
    "content": {},
    "als": {},
    "ease_weight": 0.5,
    "content_weight": 0.3,
    "als_weight": 0.25,
    "seed": 0,
}


@register
class Ensemble(Recommender):
    """score = itemknn / max(itemknn) + each other part's weight x its score / its max, per request.

    RP3beta's K short neighbour lists on time-decayed behaviour know what sells together lately;
    EASE weighs every co-occurrence against all the others; the content model knows what items
    are; ALS's factors generalise past the co-occurrences seen. On a catalog too large for EASE's
    dense inverse (more than EASE_MAX_ITEMS items) EASE is left out, so the shop can train the
    ensemble whatever its size. ALS is seeded, so the ensemble is stochastic as ALS is.
    """

    name = "ensemble"
    defaults: ClassVar[dict[str, Any]] = DEFAULTS
    stochastic = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.parts_: dict[str, Recommender] = {}

    def fit(self, data: Interactions) -> Self:
        p = self.params
        self.data = data
        self._tie_rank = None
        self.parts_ = {"itemknn": ItemKNN(**p["itemknn"]).fit(data)}
        if data.n_items <= EASE_MAX_ITEMS and p["ease_weight"] > 0:
            self.parts_["ease"] = EASE(**p["ease"]).fit(data)
        if p["content_weight"] > 0:
            self.parts_["content"] = Content(**p["content"]).fit(data)
        if p["als_weight"] > 0:
            self.parts_["als"] = ImplicitALS(**{**p["als"], "seed": p["seed"]}).fit(data)
        return self

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None and self.parts_, "fit() first"
        p = self.params
        scores = {part: model.score(context) for part, model in self.parts_.items()}
        weights = {"itemknn": 1.0, "ease": p["ease_weight"], "content": p["content_weight"], "als": p["als_weight"]}
        return blend(scores, weights, self.data.n_items)
