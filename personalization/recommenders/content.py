"""Content-based similarity: TF-IDF over title, description, attributes, category and brand."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from .base import Context, Interactions, Recommender
from .itemknn import item_neighbours, rows_sum
from .registry import register

# Category and brand are strong signals a bag of words under-weights: they join as
# tokens repeated this many times (on the demo catalog, 3 made "similar items" stay in
# category for 9 in 10 picks without drowning the words).
FACET_REPEAT = 3


def present(value: Any) -> bool:
    """Whether an item feature says something: not None, NaN, blank, or the -1 of "no brand"."""
    if value is None or (isinstance(value, float) and value != value):
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return not (isinstance(value, int | np.integer) and value < 0)


@register
class Content(Recommender):
    """Items like the ones a person looked at, by what the items say about themselves.

    Needs item_features["text"]; category and brand (when present) become tokens too. With
    no text at all (a dataset of bare ids) every score is zero and the tie-break decides.
    """

    name = "content"

    def __init__(self, *, k: int = 50, max_features: int = 50_000, **params: Any) -> None:
        super().__init__(k=k, max_features=max_features, **params)
        self.neighbours: sp.csr_matrix | None = None

    def _documents(self, data: Interactions) -> list[str]:
        features = data.item_features
        text = features.get("text")
        docs = [str(value) if present(value) else "" for value in text] if text is not None else [""] * data.n_items
        for facet in ("category", "brand"):
            values = features.get(facet)
            if values is not None:
                # A missing facet adds no token: "categoryNone" on every item made them all alike.
                docs = [
                    f"{doc} {(' ' + facet + str(value)) * FACET_REPEAT}" if present(value) else doc
                    for doc, value in zip(docs, values, strict=True)
                ]
        return docs

    def fit(self, data: Interactions) -> Self:
        self.data = data
        self._tie_rank = None
        documents = self._documents(data)
        if not any(doc.strip() for doc in documents):
            self.neighbours = sp.csr_matrix((data.n_items, data.n_items), dtype=np.float32)
            return self
        vectorizer = TfidfVectorizer(
            max_features=self.params["max_features"], sublinear_tf=True, stop_words="english", min_df=1
        )
        vectors = normalize(vectorizer.fit_transform(documents))
        # Words play the users' part: cosine between items over their TF-IDF terms.
        self.neighbours = item_neighbours(vectors.T.tocsr(), k=self.params["k"], similarity="cosine")
        return self

    def score(self, context: Context) -> np.ndarray:
        assert self.neighbours is not None, "fit() first"
        items = np.fromiter(context.history, dtype=np.int64, count=len(context.history))
        if items.size == 0:
            return np.zeros(self.data.n_items, dtype=np.float64)
        weights = np.fromiter(context.history.values(), dtype=np.float64, count=len(context.history))
        return rows_sum(self.neighbours, items, weights)

    def similar_items(self, item: int, *, n: int) -> list[tuple[int, float]]:
        return self.recommend(Context(history={item: 1.0}), n=n, exclude={item})
