"""The recommender contract, one suite for every registered algorithm, then what each family promises of its own."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from personalization.recommenders import itemknn, surprise_models
from personalization.recommenders.base import Context, Interactions
from personalization.recommenders.popularity import Popularity, Trending
from personalization.recommenders.registry import algorithms

ALGORITHMS = sorted(algorithms())
# Their lists are the same for everyone by design: no planted signal to find.
NON_PERSONAL = {"popularity", "trending"}
ITEMS_PER_CLUSTER = 12
USERS_PER_CLUSTER = 30
ITEMS_PER_USER = 5
DAY = 86400.0


def _planted() -> Interactions:
    """Two disjoint worlds: cluster-A users only touch items a00..a11, cluster-B users only b00..b11.

    Items carry a category and a text that tell the clusters apart too, for content models.
    """
    rng = np.random.default_rng(7)
    users, items, weights, times = [], [], [], []
    for cluster in "ab":
        for u in range(USERS_PER_CLUSTER):
            chosen = rng.choice(ITEMS_PER_CLUSTER, size=ITEMS_PER_USER, replace=False)
            for i in chosen:
                users.append(f"{cluster}-user{u:02d}")
                items.append(f"{cluster}{i:02d}")
                weights.append(float(rng.choice([1.0, 3.0, 5.0])))
                times.append(1.7e9 + float(rng.uniform(0, 60)) * DAY)
    data = Interactions.from_triples(
        np.array(users), np.array(items), np.array(weights, dtype=np.float32), np.array(times)
    )
    clusters = np.array([item[0] for item in data.item_ids.tolist()])
    data.item_features = {
        "category": np.where(clusters == "a", 1, 2),
        "brand": np.where(clusters == "a", 10, 20),
        "text": np.where(clusters == "a", "garden lantern candle", "kitchen mug teapot").astype(object),
    }
    return data


@pytest.fixture(scope="module")
def data() -> Interactions:
    return _planted()


@pytest.fixture(scope="module", params=ALGORITHMS)
def fitted(request, data):
    return algorithms()[request.param]().fit(data)


def _context(data: Interactions, user: str) -> Context:
    index = data.user_index(user)
    row = data.matrix[index]
    return Context(
        history={int(i): float(w) for i, w in zip(row.indices, row.data, strict=True)},
        recent=tuple(int(i) for i in row.indices),
        user_index=index,
    )


def test_every_family_is_registered():
    assert {
        "popularity",
        "trending",
        "itemknn",
        "itemknn_cosine",
        "userknn",
        "surprise_knnbaseline",
        "surprise_svd",
        "ease",
        "session_knn",
        "als",
        "ensemble",
    } <= set(ALGORITHMS)


def test_score_has_one_finite_entry_per_item(fitted, data):
    scores = fitted.score(_context(data, "a-user00"))
    assert scores.shape == (data.n_items,)
    assert np.isfinite(scores).all()


def test_recommend_gives_n_distinct_items_outside_exclude_and_the_same_every_time(fitted, data):
    context = _context(data, "a-user03")
    exclude = set(context.history) | {0, 13}
    first = fitted.recommend(context, n=8, exclude=exclude)
    items = [item for item, _ in first]
    assert len(items) == 8
    assert len(set(items)) == 8
    assert not set(items) & exclude
    assert fitted.recommend(context, n=8, exclude=exclude) == first


def test_a_second_fit_gives_the_same_lists(fitted, data):
    again = type(fitted)(**fitted.params).fit(data)
    context = _context(data, "b-user05")
    assert again.recommend(context, n=6, exclude=set(context.history)) == fitted.recommend(
        context, n=6, exclude=set(context.history)
    )


def test_similar_items_leaves_the_item_out(fitted, data):
    similar = fitted.similar_items(3, n=5)
    assert len(similar) == 5
    assert 3 not in [item for item, _ in similar]


def test_save_and_load_give_identical_recommendations(fitted, data):
    loaded = type(fitted).load(fitted.save())
    for user in ("a-user01", "b-user07"):
        context = _context(data, user)
        assert loaded.recommend(context, n=10, exclude=set(context.history)) == fitted.recommend(
            context, n=10, exclude=set(context.history)
        )


def test_a_cold_start_still_gets_n_items_by_the_tie_break(fitted, data):
    recommended = fitted.recommend(Context(), n=7)
    assert len({item for item, _ in recommended}) == 7


def _planted_stars(data: Interactions) -> list[tuple[int, int, float]]:
    """The planted signal as ratings: five stars for what a person bought, one for three of the other world's items."""
    triples = []
    for u, user in enumerate(data.user_ids.tolist()):
        own = data.matrix[u].indices
        triples += [(u, int(i), 5.0) for i in own]
        other = "b" if user.startswith("a") else "a"
        triples += [(u, data.item_index(f"{other}{(u + step) % ITEMS_PER_CLUSTER:02d}"), 1.0) for step in range(3)]
    return triples


def test_a_user_of_one_cluster_gets_that_clusters_items_first(fitted, data):
    if fitted.name in NON_PERSONAL:
        pytest.skip(f"{fitted.name} ranks the same for everyone")
    model = fitted
    if isinstance(fitted, surprise_models.SurpriseModel):
        # A rating model predicts how much a person would like an item; purchases alone are all
        # "liked", so its planted signal has to be in the ratings (on purchases only it fails,
        # which is why it ranks so badly on online retail).
        model = type(fitted)(**{**fitted.params, "ratings": _planted_stars}).fit(data)
    for user in ("a-user00", "a-user11", "b-user04", "b-user20"):
        context = _context(data, user)
        top = model.recommend(context, n=4, exclude=set(context.history))
        clusters = {data.item_ids[item][0] for item, _ in top}
        assert clusters == {user[0]}, f"{model.name} gave {user} {[data.item_ids[i] for i, _ in top]}"


# Popularity and trending.


def test_popularity_counts_weight_by_default_and_people_on_request():
    data = Interactions.from_triples(
        np.array(["u1", "u1", "u1", "u2", "u3"]),
        np.array(["x", "x", "x", "y", "y"]),
        np.array([5.0, 5.0, 5.0, 5.0, 5.0], dtype=np.float32),
    )
    by_weight = Popularity().fit(data).recommend(Context(), n=2)
    by_users = Popularity(count="users").fit(data).recommend(Context(), n=2)
    assert [data.item_ids[i] for i, _ in by_weight] == ["x", "y"]
    assert [data.item_ids[i] for i, _ in by_users] == ["y", "x"]


def test_trending_prefers_what_sold_lately_and_ranks_within_a_category():
    now = 1.7e9
    data = Interactions.from_triples(
        np.array(["u1", "u2", "u3", "u4", "u5"]),
        np.array(["old", "old", "old", "new", "shoe"]),
        np.ones(5, dtype=np.float32),
        np.array([now - 90 * DAY, now - 90 * DAY, now - 90 * DAY, now, now - DAY]),
    )
    data.item_features["category"] = np.array(["home", "home", "shoes"], dtype=object)
    model = Trending(half_life_days=7.0).fit(data)
    assert data.item_ids[model.recommend(Context(), n=1)[0][0]] == "new"
    assert Popularity().fit(data).recommend(Context(), n=1)[0][0] == data.item_index("old")
    assert [data.item_ids[i] for i, _ in model.trending_in("shoes", n=5)] == ["shoe"]
    assert model.trending_in("garden", n=5) == []


# Item-item.


def test_neighbour_lists_are_the_same_whatever_the_block_size(data):
    weighted = itemknn.weight_matrix(data.matrix, weighting="bm25")
    for similarity in ("cosine", "rp3beta"):
        whole = itemknn.item_neighbours(weighted, k=4, similarity=similarity, beta=0.5, block_entries=10**9)
        blocked = itemknn.item_neighbours(weighted, k=4, similarity=similarity, beta=0.5, block_entries=7)
        assert (whole != blocked).nnz == 0
        assert whole.diagonal().sum() == 0
        assert np.diff(whole.indptr).max() <= 4


def _reference_neighbours(matrix, *, k, similarity, alpha, beta, shrink=0.0):
    """The similarity as its formula reads, dense, and each row's k largest by (value desc, column asc)."""
    x = matrix.toarray().astype(np.float64)
    if similarity == "rp3beta":
        items = x.T / np.maximum(x.T.sum(axis=1, keepdims=True), 1e-300)
        users = x / np.maximum(x.sum(axis=1, keepdims=True), 1e-300)
        degree = (x > 0).sum(axis=0).astype(np.float64)
        scale = np.divide(1.0, degree**beta, out=np.zeros_like(degree), where=degree > 0)
        full = (items**alpha) @ (users**alpha) * scale
    else:
        squared = (x * x).sum(axis=0)
        a = 0.5 if similarity == "cosine" else alpha
        full = (x.T @ x) / (squared[:, None] ** a * squared[None, :] ** (1.0 - a) + shrink + 1e-12)
    np.fill_diagonal(full, 0.0)
    return full, [sorted(np.flatnonzero(row > 0).tolist(), key=lambda j: (-row[j], j))[:k] for row in full]


@pytest.mark.parametrize("similarity", ["cosine", "asymmetric", "rp3beta"])
def test_neighbour_lists_match_the_formula_on_random_logs(similarity):
    rng = np.random.default_rng(7)
    for trial in range(12):
        n_users, n_items = int(rng.integers(5, 120)), int(rng.integers(3, 60))
        matrix = sp.random(n_users, n_items, density=0.15, format="csr", random_state=trial, dtype=np.float32)
        if trial % 2:
            # Few distinct weights: many tied similarities, and users with one item.
            matrix.data = np.ceil(matrix.data * 2).astype(np.float32)
        k = int(rng.integers(1, 8))
        neighbours = itemknn.item_neighbours(
            matrix, k=k, similarity=similarity, alpha=0.6, beta=0.5, shrink=1.0 * (trial % 3 == 0),
            block_entries=int(rng.integers(1, 400)),
        )  # fmt: skip
        full, expected = _reference_neighbours(
            matrix, k=k, similarity=similarity, alpha=0.6, beta=0.5, shrink=1.0 * (trial % 3 == 0)
        )
        for item, columns in enumerate(expected):
            row = neighbours[item]
            assert row.toarray().ravel() == pytest.approx(
                np.where(np.isin(np.arange(n_items), row.indices), full[item], 0.0), rel=1e-5
            )
            # float32 against float64 may swap two items whose similarities differ by rounding only.
            for column in set(row.indices.tolist()) ^ set(columns):
                assert full[item, column] == pytest.approx(full[item, columns[-1]], rel=1e-5), (trial, item)
            assert row.nnz == len(columns)


def test_top_k_keeps_the_largest_and_breaks_ties_by_the_lower_column():
    block = sp.csr_matrix(np.array([[0.0, 0.5, 0.5, 0.9, 0.5], [0.2, 0.0, 0.0, 0.0, 0.7]], dtype=np.float32))
    rows, cols, vals = itemknn.top_k_rows(block, k=2, offset=0)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 3), (0, 1), (1, 4), (1, 0)]
    assert vals.tolist() == pytest.approx([0.9, 0.5, 0.7, 0.2])


@given(
    seed=st.integers(0, 2**32 - 1),
    n_items=st.integers(1, 60),
    density=st.floats(0.0, 0.5),
    rows=st.lists(st.integers(0, 59), max_size=40),
)
@hypothesis_settings(max_examples=200, deadline=None)
def test_rows_sum_is_the_weighted_sum_of_the_chosen_rows(seed, n_items, density, rows):
    """What serving scores with: the same as the sparse product it replaced, repeated and empty rows included."""
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_items, n_items, density=density, format="csr", dtype=np.float32, random_state=rng)
    chosen = np.array([row % n_items for row in rows], dtype=np.int64)
    weights = rng.random(len(chosen))
    scores = itemknn.rows_sum(matrix, chosen, weights)
    assert scores.dtype == np.float64 and scores.shape == (n_items,)
    expected = np.asarray(matrix[chosen].T @ weights).ravel() if len(chosen) else np.zeros(n_items)
    assert scores == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_cosine_similarity_matches_the_formula_with_shrinkage():
    matrix = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1], [1, 0, 0]], dtype=np.float32))
    neighbours = itemknn.item_neighbours(matrix, k=2, similarity="cosine", shrink=1.0).toarray()
    # items 0 and 1 share 2 users; |x0| = sqrt(3), |x1| = sqrt(3): 2 / (3 + 1).
    assert neighbours[0, 1] == pytest.approx(0.5)
    # items 1 and 2 share 2 users; |x2| = sqrt(2): 2 / (sqrt(6) + 1).
    assert neighbours[1, 2] == pytest.approx(2 / (np.sqrt(6) + 1))


def test_time_decay_lets_recent_co_purchases_outweigh_old_ones():
    now = 1.7e9
    # Item "a" went with "old" a year ago (three people) and with "new" this week (two people).
    users = ["p1", "p1", "p2", "p2", "p3", "p3", "q1", "q1", "q2", "q2"]
    items = ["a", "old", "a", "old", "a", "old", "a", "new", "a", "new"]
    times = [now - 365 * DAY] * 6 + [now] * 4
    data = Interactions.from_triples(np.array(users), np.array(items), np.ones(10, dtype=np.float32), np.array(times))
    a = data.item_index("a")
    plain = itemknn.ItemKNN(train_half_life_days=None).fit(data).similar_items(a, n=1)
    decayed = itemknn.ItemKNN(train_half_life_days=20.0).fit(data).similar_items(a, n=1)
    assert data.item_ids[plain[0][0]] == "old"
    assert data.item_ids[decayed[0][0]] == "new"


def test_itemknn_refuses_a_parameter_it_does_not_know():
    with pytest.raises(TypeError, match="unknown parameters"):
        itemknn.ItemKNN(neighbours=5)


# Surprise.


def test_knnbaseline_scores_are_surprises_own_predictions(data):
    from surprise import Dataset, KNNBaseline, Reader

    model = surprise_models.KNNBaselineItems(k=3).fit(data)
    frame = pd.DataFrame(surprise_models.behaviour_ratings(data), columns=["user", "item", "rating"])
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()
    reference = KNNBaseline(k=3, sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False).fit(
        trainset
    )
    for user in (0, 17, 44):
        scores = model.score(Context(user_index=user))
        expected = [reference.predict(user, item, clip=False).est for item in range(data.n_items)]
        assert scores == pytest.approx(expected, abs=1e-9)


def test_svd_scores_are_surprises_own_predictions_for_the_same_seed(data):
    from surprise import SVD, Dataset, Reader

    model = surprise_models.SVDRatings(seed=1, n_factors=8).fit(data)
    frame = pd.DataFrame(surprise_models.behaviour_ratings(data), columns=["user", "item", "rating"])
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()
    reference = SVD(n_factors=8, random_state=1).fit(trainset)
    scores = model.score(Context(user_index=9))
    assert scores == pytest.approx([reference.predict(9, i, clip=False).est for i in range(data.n_items)], abs=1e-9)
    other_seed = surprise_models.SVDRatings(seed=2, n_factors=8).fit(data).score(Context(user_index=9))
    assert other_seed != pytest.approx(scores)


def test_knnbaseline_refuses_a_catalog_too_large_for_its_dense_matrix(data, monkeypatch):
    monkeypatch.setattr(surprise_models, "KNN_MAX_ITEMS", data.n_items - 1)
    with pytest.raises(ValueError, match="dense item x item matrix"):
        surprise_models.KNNBaselineItems().fit(data)


def test_behaviour_ratings_run_two_to_five_on_a_log_scale_and_one_for_items_passed_over(data):
    triples = surprise_models.behaviour_ratings(data)
    weights = data.matrix.tocoo().data
    done = np.array([rating for _, _, rating in triples[: len(weights)]])
    assert done.min() >= 2.0
    assert done.max() == pytest.approx(5.0)
    # More behaviour, a higher rating.
    assert done[np.argmax(weights)] >= done[np.argmin(weights)]
    assert len(set(np.round(done, 6))) == len(set(weights.tolist()))
    passed_over = triples[len(weights) :]
    assert {rating for _, _, rating in passed_over} == {1.0}
    assert len(passed_over) == len(weights)
    assert not {(u, i) for u, i, _ in passed_over} & {(u, i) for u, i, _ in triples[: len(weights)]}
    assert surprise_models.behaviour_ratings(data) == triples


def test_a_ratings_source_plugs_in(data):
    # Stars that say the opposite of behaviour: every a-user loves b00 and nothing else.
    def stars(interactions):
        b00 = interactions.item_index("b00")
        triples = [(u, b00, 5.0) for u in range(interactions.n_users)]
        triples += [(u, int(i), 1.0) for u in range(interactions.n_users) for i in interactions.matrix[u].indices]
        return triples

    model = surprise_models.SVDRatings(ratings=stars, n_factors=4).fit(data)
    context = _context(data, "a-user02")
    assert model.recommend(context, n=1, exclude=set(context.history))[0][0] == data.item_index("b00")
    with pytest.raises(ValueError, match="ratings must be one of"):
        surprise_models.SVDRatings(ratings="stars")


@pytest.mark.django_db
def test_review_stars_become_ratings_for_the_users_and_products_trained_on():
    from tests.factories.catalog import ReviewFactory

    liked = ReviewFactory(rating=5)
    disliked = ReviewFactory(rating=2, user=liked.user)
    ReviewFactory(rating=4)  # a shopper the data never saw
    ReviewFactory(rating=1, user=liked.user, is_published=False)
    owner = f"u:{liked.user_id}"
    data = Interactions.from_triples(
        np.array([owner, owner, "v:someone"], dtype=object),
        np.array([liked.product_id, disliked.product_id, liked.product_id]),
        np.ones(3, dtype=np.float32),
    )
    triples = surprise_models.review_ratings(data)
    user = data.user_index(owner)
    assert sorted(triples) == sorted(
        [(user, data.item_index(liked.product_id), 5.0), (user, data.item_index(disliked.product_id), 2.0)]
    )


def _equal_weights(data: Interactions) -> Interactions:
    """The planted worlds as a log of clicks: every interaction weighs 1."""
    flat = data.matrix.copy()
    flat.data[:] = 1.0
    return Interactions(
        matrix=flat,
        user_ids=data.user_ids,
        item_ids=data.item_ids,
        last_seen=data.last_seen,
        item_features=data.item_features,
    )


@pytest.mark.parametrize(("name", "share"), [("surprise_knnbaseline", 0.9), ("surprise_svd", 0.6)])
def test_rating_models_find_the_planted_worlds_on_a_log_of_equal_weights(data, name, share):
    model = algorithms()[name]().fit(_equal_weights(data))
    own = []
    for user in data.user_ids.tolist():
        context = _context(data, user)
        top = model.recommend(context, n=4, exclude=set(context.history))
        own += [data.item_ids[item][0] == user[0] for item, _ in top]
    # By chance 7 of a person's 19 untouched items are of their world: 0.37.
    assert np.mean(own) > share


def test_behaviour_ratings_are_not_one_constant_when_every_weight_is_equal(data):
    ratings = {rating for _, _, rating in surprise_models.behaviour_ratings(_equal_weights(data))}
    assert len(ratings) > 1


def test_explicit_stars_are_what_the_rating_models_learn_when_the_data_has_them(data):
    # Stars that say the opposite of behaviour: every a-user gives b00 five stars, their own items one.
    stars = sp.lil_matrix(data.matrix.shape, dtype=np.float32)
    b00 = data.item_index("b00")
    for u in range(data.n_users):
        for i in data.matrix[u].indices:
            stars[u, i] = 1.0
        stars[u, b00] = 5.0
    rated = Interactions(
        matrix=data.matrix, user_ids=data.user_ids, item_ids=data.item_ids, ratings=sp.csr_matrix(stars)
    )
    model = surprise_models.SVDRatings(n_factors=4).fit(rated)
    context = _context(data, "a-user02")
    assert model.ratings_used_ == "explicit"
    assert model.recommend(context, n=1, exclude=set(context.history))[0][0] == b00


def test_content_ignores_a_missing_category_and_reads_the_text():
    items = np.array([1, 2, 3, 4])
    data = Interactions.from_triples(np.array(["u", "u", "v", "v"]), items, np.ones(4, dtype=np.float32))
    data.item_features = {
        "category": np.array([None, None, None, None], dtype=object),
        "text": np.array(["oak table", "glass vase", "oak chair", "glass bowl"], dtype=object),
    }
    model = algorithms()["content"]().fit(data)
    # Neighbours by what the items say, not the lowest ids behind a shared "categoryNone" token.
    assert [data.item_ids[i] for i, _ in model.similar_items(data.item_index(2), n=1)] == [4]
    bare = Interactions.from_triples(np.array(["u", "v"]), np.array([1, 2]), np.ones(2, dtype=np.float32))
    bare.item_features = {"category": np.array([None, None], dtype=object)}
    assert not algorithms()["content"]().fit(bare).score(Context(history={0: 1.0})).any()


# EASE, session kNN, implicit's ALS.


def test_ease_weights_are_the_closed_form_with_a_zero_diagonal():
    from personalization.recommenders.linear import EASE

    matrix = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1], [1, 0, 0]], dtype=np.float32)
    data = Interactions(matrix=sp.csr_matrix(matrix), user_ids=np.arange(4), item_ids=np.arange(3))
    model = EASE(l2=2.0, weighting="binary").fit(data)
    precision = np.linalg.inv(matrix.T @ matrix + 2.0 * np.eye(3))
    expected = np.eye(3) - precision / np.diag(precision)
    np.fill_diagonal(expected, 0.0)
    assert model.weights_ == pytest.approx(expected.astype(np.float32), abs=1e-6)
    assert model.score(Context(history={0: 1.0})) == pytest.approx(expected[0], abs=1e-6)


def test_ease_refuses_a_catalog_too_large_for_its_dense_inverse(data, monkeypatch):
    from personalization.recommenders import linear

    monkeypatch.setattr(linear, "EASE_MAX_ITEMS", data.n_items - 1)
    with pytest.raises(ValueError, match="dense item x item matrix"):
        linear.EASE().fit(data)


def _sessions() -> Interactions:
    """Past sessions of two worlds: a-items go together, b-items go together; b's sessions are older."""
    users, items, times = [], [], []
    for world, start in (("a", 10 * DAY), ("b", 0.0)):
        for session in range(6):
            for step, item in enumerate((0, 1 + session % 2, 3)):
                users.append(f"{world}{session}")
                items.append(f"{world}{item}")
                times.append(1.7e9 + start + session * 3600 + step)
    return Interactions.from_triples(
        np.array(users), np.array(items), np.ones(len(users), dtype=np.float32), np.array(times)
    )


def test_session_knn_follows_the_latest_click():
    from personalization.recommenders.sessionknn import SessionKNN

    data = _sessions()
    model = SessionKNN(k=6).fit(data)
    # Looked at a0 a while ago and b0 just now: the six nearest sessions are b's.
    context = Context(recent=(data.item_index("b0"), data.item_index("a0")))
    top = model.recommend(context, n=3, exclude=set(context.recent))
    assert [data.item_ids[i][0] for i, _ in top] == ["b", "b", "b"]
    assert not model.score(Context()).any()


def test_session_knn_compares_only_the_most_recent_sessions_and_weighs_them_by_age():
    from personalization.recommenders.sessionknn import SessionKNN

    data = _sessions()
    # a0 and b0 together in one old session would tie them; the sample keeps the recent a-sessions.
    context = Context(recent=(data.item_index("a3"),))
    scores = SessionKNN(sample=2).fit(data).score(context)
    assert np.count_nonzero(scores) == 4  # a0, a1, a2, a3 from the two latest a-sessions
    recent_first = SessionKNN(recency_half_life_days=1.0).fit(data)
    near = recent_first.score(Context(recent=(data.item_index("a0"),)))
    # Sessions a0..a5 are an hour apart: the latest one's a2 outweighs a1 despite equal counts.
    assert near[data.item_index("a2")] > near[data.item_index("a1")]


def test_session_knn_cut_to_the_latest_sessions_per_item_changes_no_score():
    from personalization.recommenders.sessionknn import SessionKNN

    rng = np.random.default_rng(3)
    users, items = rng.integers(0, 300, 2000), rng.integers(0, 40, 2000)
    # Whole days only: many sessions end at the same moment, so the tie-break matters too.
    times = np.floor(rng.uniform(0, 30, 2000)) * DAY
    data = Interactions.from_triples(users, items, np.ones(2000, dtype=np.float32), times)
    for params in (
        {"sample": 4, "k": 3},
        {"sample": 10, "k": 50, "similarity": "cosine", "recency_half_life_days": 3.0},
    ):
        cut = SessionKNN(**params).fit(data)
        whole = SessionKNN(**params).fit(data)
        whole.item_sessions_ = whole.session_items_.T.tocsr()
        assert np.diff(cut.item_sessions_.indptr).max() == params["sample"] + 1
        for user in range(0, data.n_users, 7):
            row = data.matrix[user]
            known = Context(history=dict(zip(row.indices.tolist(), row.data.tolist(), strict=True)), user_index=user)
            live = Context(recent=tuple(row.indices.tolist()))
            assert cut.score(known) == pytest.approx(whole.score(known))
            assert cut.score(live) == pytest.approx(whole.score(live))


def test_als_solves_a_live_profile_against_the_item_factors(data):
    from personalization.recommenders.factorization import ImplicitALS

    model = ImplicitALS().fit(data)
    trained = _context(data, "a-user00")
    # The solved factors are the fitted ones when the history is the trained row.
    assert np.corrcoef(model.score(trained), model.score(Context(history=trained.history)))[0, 1] > 0.999
    a_items = [data.item_index(f"a{i:02d}") for i in range(4)]
    live = Context(history={item: 1.0 for item in a_items})
    top = model.recommend(live, n=4, exclude=set(a_items))
    assert {data.item_ids[i][0] for i, _ in top} == {"a"}


def test_als_gives_what_a_person_did_more_confidence_than_what_they_never_touched(data):
    """implicit takes each stored value as the whole confidence (Hu et al.'s c = 1 + alpha * r):
    one view must weigh more than an empty cell's 1, or touched items would count against."""
    from personalization.recommenders.factorization import ImplicitALS

    model = ImplicitALS()
    confidence = model._confidence(data.matrix)
    assert confidence.data.min() > 1.0
    single_view = model._confidence(sp.csr_matrix(np.array([[1.0]])))
    assert single_view.data[0] == pytest.approx(1 + model.params["alpha"] * np.log(2), rel=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_the_matrix_sums_each_cell_keeps_its_latest_time_and_drops_items_outside_the_catalog(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 8)) if seed % 2 else int(rng.integers(1, 400))
    users = rng.integers(0, 20, size)
    items = rng.integers(0, 15, size)
    weights = rng.integers(1, 5, size).astype(float)
    times = rng.integers(0, 50, size).astype(float)
    # Every other id of 0..19 is in the catalog, so some events name items it no longer has.
    universe = np.arange(0, 20, 2)
    data = Interactions.from_triples(users, items, weights, times, item_universe=universe)
    # A person whose every event names a dropped item has no row.
    user_ids = np.unique(users[np.isin(items, universe)])
    sums, latest = np.zeros((len(user_ids), len(universe))), np.zeros((len(user_ids), len(universe)))
    for user, item, weight, moment in zip(users, items, weights, times, strict=True):
        if item in universe:
            row, column = np.searchsorted(user_ids, user), np.searchsorted(universe, item)
            sums[row, column] += weight
            latest[row, column] = max(latest[row, column], moment)
    assert list(data.user_ids) == list(user_ids) and list(data.item_ids) == list(universe)
    assert np.array_equal(data.matrix.toarray(), sums)
    assert np.array_equal(data.last_seen.toarray(), latest)
    assert data.matrix.has_sorted_indices and data.matrix.nnz == np.count_nonzero(sums)
