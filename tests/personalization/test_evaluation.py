"""The offline protocol on logs small enough to score by hand, the loaders, the command, the real figures."""

import csv
import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from personalization.evaluation import datasets, protocol
from personalization.evaluation.report import ndcg_chart_svg, run_write, table_lines
from personalization.evaluation.runner import Run, candidates_from, evaluation_run
from personalization.recommenders.base import Context, Interactions, Recommender
from personalization.recommenders.popularity import Popularity
from personalization.recommenders.registry import algorithm
from tests.factories.tracking import EventFactory

DAY = 86400.0
SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
ONLINE_RETAIL = SHARED / "online_retail" / "online_retail.csv.gz"
needs_online_retail = pytest.mark.skipif(not ONLINE_RETAIL.is_file(), reason=f"{ONLINE_RETAIL} is absent")


def _log(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user", "item", "day", "weight", "target"])
    return frame.assign(ts=frame["day"] * DAY).drop(columns="day")


# Days 0..10, so the cut is day 8. Train popularity by weight: i3 6, i1 3, i2 2, i4 1, i5 1
# (i4 before i5 by the tie-break: same users, lower id).
HAND_LOG = _log(
    [
        ("u1", "i1", 0, 1.0, True),
        ("u1", "i2", 1, 1.0, True),
        ("u2", "i1", 1, 1.0, True),
        ("u2", "i3", 2, 1.0, True),
        ("u2", "i5", 2, 1.0, True),
        ("u3", "i2", 3, 1.0, True),
        ("u3", "i1", 3, 1.0, True),
        ("u4", "i4", 4, 1.0, True),
        ("u5", "i3", 5, 5.0, True),
        # Test period, from day 8 (the cut itself is test).
        ("u1", "i3", 8, 5.0, True),
        ("u1", "i5", 9, 5.0, True),
        ("u1", "i6", 10, 5.0, True),  # never seen in train: in the truth, cannot be recommended
        ("u2", "i2", 8, 1.0, False),  # a view, not a target: u2 is not evaluated
        ("u3", "i4", 9, 5.0, True),
        ("u3", "i1", 9, 5.0, True),  # already in u3's train history: not truth
        ("u4", "i4", 10, 5.0, True),  # the same: u4 has no new target item
        ("u6", "i1", 9, 5.0, True),  # no train history: not evaluated
    ]
)


def test_the_split_puts_the_last_fifth_of_time_in_test():
    split = protocol.split_by_time(HAND_LOG)
    assert split.cut == 8 * DAY
    assert len(split.train) == 9
    assert len(split.test) == 8
    assert split.train["ts"].max() < split.cut <= split.test["ts"].min()


def test_evaluated_users_and_their_truth():
    truth = protocol.ground_truth(protocol.split_by_time(HAND_LOG))
    assert truth == {"u1": frozenset({"i3", "i5", "i6"}), "u3": frozenset({"i4"})}


def test_popularity_on_the_hand_log_scores_what_the_hand_computes():
    split = protocol.split_by_time(HAND_LOG)
    truth = protocol.ground_truth(split)
    data = protocol.interactions_from(split.train)
    lists = protocol.rankings_compute(Popularity().fit(data), data, truth)
    # u1 has i1, i2: [i3, i4, i5]. u3 has i1, i2: the same list.
    assert lists == {"u1": ["i3", "i4", "i5"], "u3": ["i3", "i4", "i5"]}
    metrics = protocol.metrics_compute(rankings=lists, truth=truth, train_items=data.item_ids.tolist())
    # u1: hits at ranks 1 and 3 of 3 truth items; u3: a hit at rank 2 of 1.
    ndcg_u1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    ndcg_u3 = 1 / math.log2(3)
    assert metrics.users == 2
    assert metrics.precision == pytest.approx((2 / 10 + 1 / 10) / 2)
    assert metrics.recall == pytest.approx((2 / 3 + 1) / 2)
    assert metrics.ndcg == pytest.approx((ndcg_u1 + ndcg_u3) / 2)
    assert metrics.hit_rate == 1.0
    assert metrics.coverage == pytest.approx(3 / 5)
    assert metrics.hits == 3
    assert metrics.absent_share == pytest.approx(1 / 4)


def test_popularity_by_weight_and_by_people_rank_differently():
    split = protocol.split_by_time(HAND_LOG)
    data = protocol.interactions_from(split.train)
    # For u4 (who has i4): by weight i3 6, i1 3, i2 2, i5 1; by people i1 3, then i2 and i3 2 each.
    by_weight = protocol.rankings_compute(Popularity().fit(data), data, ["u4"])
    by_people = protocol.rankings_compute(Popularity(count="users").fit(data), data, ["u4"])
    assert by_weight["u4"] == ["i3", "i1", "i2", "i5"]
    assert by_people["u4"] == ["i1", "i2", "i3", "i5"]


def test_precision_stops_at_ten_recall_at_twenty_and_a_user_without_a_list_scores_zero():
    ranked = [f"x{i}" for i in range(20)]
    truth = {"a": frozenset({"x0", "x14"}), "b": frozenset({"x3"})}
    metrics = protocol.metrics_compute(rankings={"a": ranked}, truth=truth, train_items=ranked)
    assert metrics.precision == pytest.approx((1 / 10 + 0) / 2)
    assert metrics.recall == pytest.approx((2 / 2 + 0) / 2)
    assert metrics.ndcg == pytest.approx((1 / (1 + 1 / math.log2(3)) + 0) / 2)
    assert metrics.hit_rate == 0.5
    assert metrics.hits == 1
    assert metrics.coverage == pytest.approx(10 / 20)


def test_validation_takes_the_last_tenth_of_the_train_period():
    split = protocol.split_by_time(HAND_LOG)
    validation = protocol.validation_split(split)
    assert validation.cut == pytest.approx(0.9 * 5 * DAY)
    assert set(validation.test["ts"]) == {5 * DAY}
    assert validation.test["ts"].max() < split.cut


@given(
    users=st.lists(st.text(min_size=1, max_size=6), unique=True, max_size=60),
    size=st.integers(min_value=0, max_value=80),
)
def test_a_truth_sample_is_at_most_its_size_of_the_same_users_in_the_same_order_every_time(users, size):
    truth = {user: frozenset({position}) for position, user in enumerate(users)}
    sample = protocol.truth_sample(truth, size=size)
    assert len(sample) == min(size, len(truth))
    assert list(sample) == [user for user in truth if user in sample]  # the truth's order, kept
    assert all(sample[user] == truth[user] for user in sample)
    assert protocol.truth_sample(dict(reversed(truth.items())), size=size).keys() == sample.keys()
    assert protocol.truth_sample(truth, size=None) == truth


def test_a_run_with_max_users_ranks_a_sample_and_counts_everyone_who_qualified():
    candidates = candidates_from(["itemknn"])
    full = evaluation_run(log=HAND_LOG, dataset="hand", candidates=candidates)
    sampled = evaluation_run(log=HAND_LOG, dataset="hand", candidates=candidates, max_users=1)
    assert sampled.eligible == full.eligible == full.users > 1
    assert sampled.users == 1 and all(result.metrics.users == 1 for result in sampled.results)


def test_a_dataset_with_its_own_split_keeps_it():
    log = HAND_LOG.assign(split=np.where(HAND_LOG["ts"] >= 5 * DAY, "test", "train"))
    split = protocol.split_by_time(log)
    assert split.cut == 5 * DAY
    assert len(split.train) == 8


def test_a_log_without_the_required_columns_is_refused():
    with pytest.raises(ValueError, match="lacks weight"):
        protocol.split_by_time(HAND_LOG.drop(columns="weight"))


class _SeededQuality(Recommender):
    """Seed 0 ranks best on the hand log, seed 1 worst, seed 2 in between."""

    name = "seeded_quality"
    stochastic = True

    def __init__(self, *, seed: int = 0) -> None:
        super().__init__(seed=seed)

    def fit(self, data: Interactions) -> Self:
        self.data = data
        return self

    def score(self, context: Context) -> np.ndarray:
        assert self.data is not None
        position = {}
        # NDCG@10 on the hand log: 0.7653, 0.6327 and 0.6674.
        order = {0: ["i4", "i3", "i5"], 1: ["i3", "i5", "i4"], 2: ["i3", "i4", "i5"]}[self.params["seed"]]
        for rank, item in enumerate(order):
            position[item] = 3 - rank
        return np.array([position.get(item, 0) for item in self.data.item_ids.tolist()], dtype=float)


def test_a_stochastic_model_runs_three_seeds_and_reports_the_median():
    split = protocol.split_by_time(HAND_LOG)
    data = protocol.interactions_from(split.train)
    result = protocol.algorithm_evaluate(cls=_SeededQuality, data=data, truth=protocol.ground_truth(split))
    assert len(result.runs) == 3
    assert result.runs[0] > result.runs[2] > result.runs[1]
    assert result.seed == 2
    assert result.metrics.ndcg == result.runs[2]


# Datasets.


def _events(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "name": name,
                "visitor_id": uuid.UUID(int=visitor),
                "session_id": uuid.UUID(int=100 + session) if session is not None else None,
                "item": item,
                "properties": {"item_category": category} if category else {},
                "client_ts": pd.Timestamp(datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=hour)),
            }
            for name, visitor, session, item, category, hour in rows
        ]
    )


def test_importer_events_become_a_weighted_log_with_targets():
    events = _events(
        [
            ("view_item", 1, 1, "a", "shoes", 0),
            ("add_to_cart", 1, 1, "a", "shoes", 1),
            ("purchase", 1, 2, "b", None, 30),
            ("remove_from_cart", 2, 3, "a", None, 2),  # no behaviour weight
            ("view_item", 2, None, "c", None, 3),
        ]
    )
    log = datasets.log_from_events(events, user_key="visitor", category="item_category")
    assert log["weight"].tolist() == [1.0, 3.0, 5.0, 1.0]
    assert log["target"].tolist() == [False, False, True, False]
    assert log["ts"].tolist() == [1577836800.0, 1577840400.0, 1577944800.0, 1577847600.0]
    assert log["category"].tolist() == ["shoes", "shoes", None, None]
    by_session = datasets.log_from_events(events, user_key="session", targets={"add_to_cart", "purchase"})
    # The session-less view is left out; each session is its own user.
    assert len(by_session) == 3
    assert by_session["user"].nunique() == 2
    assert by_session["target"].tolist() == [False, True, True]


def test_an_unknown_dataset_or_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.dataset_log(name="movielens")
    with pytest.raises(datasets.DatasetMissing):
        datasets.dataset_log(name="taobao", path=tmp_path / "absent.csv")
    with pytest.raises(datasets.DatasetMissing, match="no default file"):
        datasets.dataset_log(name="csv")


def test_a_generic_csv_is_read_with_the_importers_reader(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "visitor,item,event,timestamp,category\n"
        "v1,sku1,view,2024-01-01T10:00:00Z,lamps\n"
        "v1,sku2,purchase,2024-01-02T10:00:00Z,lamps\n"
        "v2,sku1,cart,1704103200,\n"
    )
    log = datasets.dataset_log(name="csv", path=path)
    assert sorted(log["item"]) == ["sku1", "sku1", "sku2"]
    assert log.sort_values("ts")["weight"].tolist() == [1.0, 3.0, 5.0]
    assert log["target"].sum() == 1


def _shop_history(*, start: datetime) -> None:
    """Stored events of six shoppers: every one views and buys in train, four buy again in test."""
    for shopper in range(6):
        visitor = uuid.uuid4()
        user_id = 1000 + shopper if shopper < 3 else None
        for day, name, product in [(0, "view_item", 1), (1, "add_to_cart", 1), (2, "view_item", 2 + shopper % 2)]:
            moment = start + timedelta(days=day, hours=shopper)
            EventFactory(
                name=name, visitor_id=visitor, user_id=user_id, product_id=product, client_ts=moment, occurred_at=moment
            )
        moment = start + timedelta(days=3, hours=shopper)
        EventFactory(
            name="purchase",
            visitor_id=visitor,
            user_id=user_id,
            product_id=None,
            properties={"transaction_id": f"T{shopper}", "value": 10.0, "items": [{"item_id": "4", "quantity": 1}]},
            client_ts=moment,
            occurred_at=moment,
        )
        if shopper < 4:
            moment = start + timedelta(days=9, hours=shopper)
            EventFactory(
                name="purchase",
                visitor_id=visitor,
                user_id=user_id,
                product_id=None,
                properties={"transaction_id": f"U{shopper}", "value": 10.0, "items": [{"item_id": "5", "quantity": 1}]},
                client_ts=moment,
                occurred_at=moment,
            )
    EventFactory(name="page_view", product_id=None, client_ts=start, occurred_at=start)


@pytest.mark.django_db
def test_stored_events_become_a_log_keyed_by_user_or_visitor():
    start = datetime(2024, 3, 1, tzinfo=UTC)
    _shop_history(start=start)
    log = datasets.events_log()
    assert len(log) == 6 * 4 + 4
    assert set(log["item"]) == {1, 2, 3, 4, 5}
    assert {user for user in log["user"] if user.startswith("u:")} == {"u:1000", "u:1001", "u:1002"}
    assert log["user"].nunique() == 6
    assert log.loc[log["target"], "item"].isin({4, 5}).all()


@pytest.mark.django_db
def test_the_command_evaluates_stored_events_and_writes_table_csv_json_and_chart(tmp_path, capsys):
    _shop_history(start=datetime(2024, 3, 1, tzinfo=UTC))
    call_command("evaluate_recommenders", source="events", algorithms="itemknn", output=tmp_path)
    out = capsys.readouterr().out
    assert "4 users evaluated" in out
    assert "popularity" in out and "itemknn" in out
    with open(tmp_path / "events_test.csv", encoding="utf-8") as handle:
        rows = {row["algorithm"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"popularity", "itemknn"}
    # Everyone bought item 5 in test; nobody had it in train: it cannot be recommended.
    assert rows["popularity"]["hits"] == "0"
    document = json.loads((tmp_path / "events_test.json").read_text())
    assert document["users"] == 4
    assert document["absent_share"] == 1.0
    assert (tmp_path / "events_test_ndcg.svg").read_text().lstrip().startswith("<?xml")


def test_the_command_says_what_is_wrong(tmp_path):
    with pytest.raises(CommandError, match="no online_retail file"):
        call_command("evaluate_recommenders", dataset="online_retail", path=tmp_path / "absent.csv.gz")
    with pytest.raises(CommandError, match="--dataset is needed"):
        call_command("evaluate_recommenders")
    with pytest.raises(KeyError):
        candidates_from(["itemknn", "magic"])


def test_the_report_escapes_labels_and_lists_refusals(tmp_path):
    split = protocol.split_by_time(HAND_LOG)
    data = protocol.interactions_from(split.train)
    truth = protocol.ground_truth(split)
    result = protocol.algorithm_evaluate(cls=Popularity, data=data, truth=truth, label="<script>alert(1)</script>")
    run = Run(
        dataset="hand",
        split="test",
        cut=datetime.fromtimestamp(split.cut, tz=UTC),
        users=2,
        train_rows=9,
        test_rows=8,
        train_users=5,
        train_items=5,
        absent_share=0.25,
        results=[result],
        failures={"surprise_knnbaseline": "too many items"},
    )
    svg = ndcg_chart_svg(run)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    lines = table_lines(run)
    assert any(line.startswith("surprise_knnbaseline") and "failed: too many items" in line for line in lines)
    assert any("fewer than 100 hits" in line for line in lines)
    paths = run_write(run, directory=tmp_path / "out")
    assert [path.name for path in paths] == ["hand_test.csv", "hand_test.json", "hand_test_ndcg.svg"]


def test_a_model_that_refuses_the_data_is_reported_not_fatal(monkeypatch):
    from personalization.recommenders import surprise_models

    monkeypatch.setattr(surprise_models, "KNN_MAX_ITEMS", 2)
    run = evaluation_run(log=HAND_LOG, dataset="hand", candidates=candidates_from(["surprise_knnbaseline"]))
    assert [result.algorithm for result in run.results] == ["popularity"]
    assert "dense item x item matrix" in run.failures["surprise_knnbaseline"]


# The real figures (EVALUATION.md).


@pytest.fixture(scope="module")
def online_retail():
    log = datasets.dataset_log(name="online_retail", path=ONLINE_RETAIL)
    split = protocol.split_by_time(log)
    return split, protocol.ground_truth(split), protocol.interactions_from(split.train)


@pytest.mark.dataset
@needs_online_retail
@pytest.mark.timeout(60)
def test_online_retail_popularity_reproduces_the_protocols_sanity_figures(online_retail):
    split, truth, data = online_retail
    assert datetime.fromtimestamp(split.cut, tz=UTC).strftime("%Y-%m-%d %H:%M") == "2011-09-25 21:33"
    result = protocol.algorithm_evaluate(cls=Popularity, data=data, truth=truth, measure_memory=False)
    metrics = result.metrics
    assert metrics.users == 1823
    assert round(metrics.ndcg, 4) == 0.0455
    assert round(metrics.precision, 4) == 0.0419
    assert round(metrics.recall, 4) == 0.0279
    assert round(metrics.hit_rate, 4) == 0.2836
    assert round(metrics.coverage, 4) == 0.0166
    assert metrics.hits == 764
    assert round(metrics.absent_share, 3) == 0.087


@pytest.mark.dataset
@needs_online_retail
@pytest.mark.timeout(120)
def test_online_retail_itemknn_beats_the_strongest_public_baseline(online_retail):
    _, truth, data = online_retail
    result = protocol.algorithm_evaluate(cls=algorithm("itemknn"), data=data, truth=truth, measure_memory=False)
    assert result.metrics.ndcg > 0.105
    assert result.metrics.hits > 1000


# A broken algorithm, a log of equal weights, a dataset's own columns.


class _Crashes(Recommender):
    """Fails the way a third-party model does on data it cannot handle: not with a ValueError."""

    name = "crashes"

    def fit(self, data: Interactions) -> Self:
        raise ZeroDivisionError("float division")

    def score(self, context: Context) -> np.ndarray:
        raise AssertionError("never fitted")


def test_an_algorithm_that_crashes_is_reported_in_its_row_and_the_rest_still_run(tmp_path):
    from personalization.evaluation.runner import Candidate

    candidates = [
        *candidates_from(["popularity"]),
        Candidate(label="crashes", cls=_Crashes),
        *candidates_from(["itemknn"])[1:],
    ]
    run = evaluation_run(log=HAND_LOG, dataset="hand", candidates=candidates)
    assert [result.algorithm for result in run.results] == ["popularity", "itemknn"]
    assert run.failures["crashes"] == "ZeroDivisionError: float division"
    assert any(line.startswith("crashes") and "failed: ZeroDivisionError" in line for line in table_lines(run))


def _equal_weights_log() -> pd.DataFrame:
    """Two worlds of shoppers, every interaction weighing 1 (a log of clicks), the last days test."""
    rng = np.random.default_rng(3)
    rows = []
    for world in "ab":
        for shopper in range(25):
            for day, item in enumerate(rng.choice(8, size=5, replace=False)):
                rows.append((f"{world}{shopper}", f"{world}-item{item}", day * 2 + rng.uniform(0, 1), 1.0, True))
    return _log(rows)


def test_a_log_of_equal_weights_runs_every_algorithm():
    run = evaluation_run(log=_equal_weights_log(), dataset="clicks", candidates=candidates_from([]))
    assert run.failures == {}
    assert {result.algorithm for result in run.results} == set(algorithm_names())


def algorithm_names() -> list[str]:
    from personalization.recommenders.registry import algorithms

    return list(algorithms())


def test_a_generic_csv_brings_its_split_ratings_titles_and_numeric_ids(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(
        "visitor,item,event,timestamp,title,brand,category,rating,split\n"
        "v1,10,purchase,2024-01-01T10:00:00Z,Blue garden lantern,Acme,,4,train\n"
        "v1,9,purchase,2024-01-02T10:00:00Z,Red kitchen mug,,,2,train\n"
        "v2,10,purchase,2024-01-03T10:00:00Z,Blue garden lantern,Acme,,5,test\n"
        "v2,9,view,2024-01-01T09:00:00Z,Red kitchen mug,,,,train\n"
    )
    log = datasets.dataset_log(name="csv", path=path).sort_values("ts")
    # Numeric ids stay numbers: 9 ranks before 10 on a tie, not after it as the text "9" would.
    assert log["item"].tolist() == [9, 10, 9, 10]
    assert log["text"].tolist() == ["Red kitchen mug", "Blue garden lantern", "Red kitchen mug", "Blue garden lantern"]
    assert log["brand"].tolist()[1] == "Acme"
    assert log["rating"].tolist()[1:] == [4.0, 2.0, 5.0]
    assert math.isnan(log["rating"].tolist()[0])
    split = protocol.split_by_time(log)
    # The file's own split, though its test row is not the latest.
    assert len(split.test) == 1
    assert split.test["ts"].tolist() == [datetime(2024, 1, 3, 10, tzinfo=UTC).timestamp()]
    data = protocol.interactions_from(split.train)
    assert data.item_ids.tolist() == [9, 10]
    assert data.item_features["text"].tolist() == ["Red kitchen mug", "Blue garden lantern"]
    assert data.ratings is not None and data.ratings.nnz == 2


@pytest.mark.django_db
def test_stored_events_bring_item_text_and_leave_a_missing_category_missing():
    from tests.factories.catalog import ProductFactory

    start = datetime(2024, 3, 1, tzinfo=UTC)
    _shop_history(start=start)
    lamp = ProductFactory(title="Brass reading lamp")
    EventFactory(name="view_item", product_id=lamp.pk, client_ts=start, occurred_at=start)
    log = datasets.events_log()
    assert log["item"].dtype.kind == "i"
    data = protocol.interactions_from(log)
    text = dict(zip(data.item_ids.tolist(), data.item_features["text"].tolist(), strict=True))
    assert "Brass reading lamp" in text[lamp.pk]
    assert not any("None" in str(value) for value in data.item_features.get("category", []))


# Statistical honesty.


def test_metrics_carry_their_standard_errors_and_the_session_measures():
    ranked = [f"x{i}" for i in range(20)]
    truth = {"a": frozenset({"x0", "x14"}), "b": frozenset({"x3"}), "c": frozenset({"y"})}
    metrics = protocol.metrics_compute(
        rankings={"a": ranked, "b": ranked, "c": ranked}, truth=truth, train_items=ranked
    )
    ndcg_a = 1 / (1 + 1 / math.log2(3))
    ndcg_b = 1 / math.log2(5)
    assert metrics.ndcg_se == pytest.approx(np.std([ndcg_a, ndcg_b, 0.0], ddof=1) / math.sqrt(3))
    # HR@20: a and b have a hit in the top 20; MRR@20: the first hit's reciprocal rank.
    assert metrics.hr20 == pytest.approx(2 / 3)
    assert metrics.mrr20 == pytest.approx((1 + 1 / 4 + 0) / 3)
    assert metrics.per_user["ndcg"].tolist() == pytest.approx([ndcg_a, ndcg_b, 0.0])


def test_the_report_gives_each_algorithm_its_paired_difference_to_the_best_and_marks_ties(tmp_path):
    run = evaluation_run(
        log=_equal_weights_log(), dataset="clicks", candidates=candidates_from(["itemknn", "itemknn_cosine"])
    )
    best = max(run.results, key=lambda result: result.metrics.ndcg)
    lines = table_lines(run)
    header = next(line for line in lines if line.startswith("algorithm"))
    for column in ("±se", "Δbest", "±Δse"):
        assert column in header
    names = {"popularity", "itemknn", "itemknn_cosine"}
    rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in names}
    assert "best" in rows[best.algorithm]
    # A toy log: every figure rests on fewer than 100 hits, so none is told apart from the best.
    assert all("noise" in line for line in rows.values())
    run_write(run, directory=tmp_path)
    document = json.loads((tmp_path / "clicks_test.json").read_text())
    figures = {row["algorithm"]: row for row in document["results"]}
    assert figures[best.algorithm]["diff_to_best"] == 0.0
    assert {"ndcg_at_10_se", "hr_at_20", "mrr_at_20", "diff_to_best_se", "tie_with_best"} <= set(figures["popularity"])


# The session protocol.

# Five sessions over days 0..10: with a test share of 40%, s4 and s5 (the two that start last) are test.
SESSION_LOG = _log(
    [
        ("s1", "a", 0.0, 1.0, False),
        ("s1", "b", 0.1, 1.0, False),
        ("s1", "c", 0.2, 3.0, True),
        ("s2", "a", 2.0, 1.0, False),
        ("s2", "c", 2.1, 1.0, False),
        ("s3", "b", 7.9, 1.0, False),
        ("s3", "d", 8.5, 1.0, False),  # s3 started before the cut: wholly train, though this is later
        ("s4", "a", 8.2, 1.0, False),
        ("s4", "b", 8.3, 1.0, False),
        ("s4", "a", 8.4, 1.0, False),  # a again: not truth, it was revealed
        ("s4", "c", 8.6, 1.0, False),
        ("s4", "e", 8.7, 1.0, False),  # never seen in train: truth that cannot be recommended
        ("s5", "d", 10.0, 1.0, False),  # one event: revealed, nothing left to predict
    ]
)


def test_the_session_protocol_reveals_each_test_sessions_first_half_and_asks_for_the_rest():
    split, truth = protocol.session_split(SESSION_LOG, test_share=0.4)
    assert split.cut == 8.2 * DAY
    assert truth == {"s4": frozenset({"c", "e"})}
    # Train: s1..s3 whole, then s4's first two events and s5's one.
    assert sorted(split.train.groupby("user").size().items()) == [("s1", 3), ("s2", 2), ("s3", 2), ("s4", 2), ("s5", 1)]
    data = protocol.interactions_from(split.train)
    lists = protocol.rankings_compute(Popularity(count="users").fit(data), data, truth)
    # Candidates are train items minus what s4 revealed (a, b): c (2 sessions), then d.
    assert lists == {"s4": ["c", "d"]}
    metrics = protocol.metrics_compute(rankings=lists, truth=truth, train_items=data.item_ids.tolist())
    assert metrics.hr20 == 1.0 and metrics.mrr20 == 1.0
    assert metrics.absent_share == 0.5


def test_the_session_protocol_keeps_a_datasets_own_split():
    log = SESSION_LOG.assign(split=np.where(SESSION_LOG["user"].isin(["s2", "s4"]), "test", "train"))
    split, truth = protocol.session_split(log)
    assert set(truth) == {"s2", "s4"}
    assert truth["s2"] == frozenset({"c"})
    assert split.train.loc[split.train["user"] == "s3", "item"].tolist() == ["b", "d"]


def test_the_click_reveal_asks_each_prefix_of_a_test_session_for_its_next_new_item():
    split, truth = protocol.click_split(SESSION_LOG, test_share=0.4)
    # Models see the train sessions only; s4 (a b a c e) and s5 (d) are asked click by click.
    assert sorted(split.train["user"].unique()) == ["s1", "s2", "s3"]
    # After "a b" the next click is a again, already in the prefix: not asked. s5 has no next click.
    assert truth == {
        protocol.Prefix("s4", 1, ("a",)): frozenset({"b"}),
        protocol.Prefix("s4", 3, ("a", "b", "a")): frozenset({"c"}),
        protocol.Prefix("s4", 4, ("a", "b", "a", "c")): frozenset({"e"}),
    }
    data = protocol.interactions_from(split.train)
    # Summed weights: c 4, a 2, b 2 (a first by index), d 1; each prefix's own items are no candidates.
    lists = protocol.prefix_rankings(Popularity(count="weight").fit(data), data, truth)
    assert list(lists.values()) == [["c", "b", "d"], ["c", "d"], ["d"]]
    metrics = protocol.metrics_compute(rankings=lists, truth=truth, train_items=data.item_ids.tolist())
    # b at rank 2, c at rank 1, e never (it is not in train): averaged over the three predictions.
    ndcg = [1 / math.log2(3), 1.0, 0.0]
    assert metrics.users == 3 and metrics.hits == 2
    assert metrics.hr20 == pytest.approx(2 / 3)
    assert metrics.mrr20 == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert metrics.ndcg == pytest.approx(sum(ndcg) / 3)
    assert metrics.ndcg_se == pytest.approx(np.std(ndcg, ddof=1) / math.sqrt(3))


def test_the_click_reveal_caps_the_prefixes_of_a_long_session():
    _, truth = protocol.click_split(SESSION_LOG, test_share=0.4, max_prefixes=2)
    assert list(truth) == [protocol.Prefix("s4", 1, ("a",))]


def test_a_run_under_the_click_reveal_reports_its_predictions_and_refuses_the_served_pipeline(tmp_path):
    run = evaluation_run(
        log=_equal_weights_log(),
        dataset="clicks",
        candidates=candidates_from(["itemknn"]),
        protocol="sessions",
        reveal="clicks",
    )
    assert run.evaluated == "predictions" and run.users > 0
    assert "clicks reveal" in table_lines(run)[0]
    assert "standard error over evaluated predictions" in table_lines(run)[-1]
    run_write(run, directory=tmp_path)
    assert (tmp_path / "clicks_sessions_clicks_test.json").exists()
    with pytest.raises(ValueError, match="half reveal"):
        evaluation_run(
            log=_equal_weights_log(),
            dataset="clicks",
            candidates=candidates_from(["itemknn"]),
            protocol="sessions",
            reveal="clicks",
            served=True,
        )


@pytest.mark.django_db
def test_the_command_evaluates_stored_sessions_under_the_session_protocol(tmp_path, capsys):
    start = datetime(2024, 3, 1, tzinfo=UTC)
    for session in range(12):
        session_id = uuid.uuid4()
        for step, product in enumerate([1 + session % 3, 4 + session % 3, 7 + session % 3, 10]):
            moment = start + timedelta(days=session, minutes=step)
            EventFactory(
                name="view_item", session_id=session_id, product_id=product, client_ts=moment, occurred_at=moment
            )
    call_command("evaluate_recommenders", source="events", protocol="sessions", algorithms="itemknn", output=tmp_path)
    out = capsys.readouterr().out
    assert "sessions protocol" in out
    assert "2 sessions evaluated" in out  # the fifth of 12 sessions that start last
    document = json.loads((tmp_path / "events_sessions_test.json").read_text())
    rows = {row["algorithm"]: row for row in document["results"]}
    assert rows["itemknn"]["hr_at_20"] == 1.0
    call_command(
        "evaluate_recommenders",
        source="events",
        protocol="sessions",
        reveal="clicks",
        algorithms="itemknn",
        output=tmp_path,
    )
    out = capsys.readouterr().out
    assert "clicks reveal" in out
    assert "6 predictions evaluated" in out  # each of the two test sessions' three prefixes
    assert (tmp_path / "events_sessions_clicks_test.json").is_file()


# The served pipeline.


def _categorised_log() -> pd.DataFrame:
    """Shoppers who buy within one category; each category has many items, so diversity has work to do."""
    rng = np.random.default_rng(5)
    rows = []
    for shopper in range(40):
        home = shopper % 2
        for day in range(8):
            category = home if rng.uniform() < 0.8 else 2 + day % 3
            rows.append(
                (f"u{shopper}", f"c{category}-i{rng.integers(6)}", day + rng.uniform(), 5.0, True, f"cat{category}")
            )
    frame = pd.DataFrame(rows, columns=["user", "item", "day", "weight", "target", "category"])
    return frame.assign(ts=frame["day"] * DAY).drop(columns="day")


def test_the_served_pipeline_is_scored_beside_the_raw_model_through_serving_stages():
    from personalization.evaluation import served

    log = _categorised_log()
    run = evaluation_run(log=log, dataset="shop", candidates=candidates_from(["itemknn"]), served=True)
    results = {result.algorithm: result for result in run.results}
    assert set(results) == {"popularity", "itemknn", "popularity served", "itemknn served"}
    assert results["itemknn served"].metrics.users == results["itemknn"].metrics.users
    # Diversity reorders the model's list: the served lists are not the raw ones.
    whole = protocol.split_by_time(log)
    data = protocol.interactions_from(whole.train)
    model = algorithm("itemknn")().fit(data)
    raw = protocol.rankings_compute(model, data, protocol.ground_truth(whole))
    coded_data, coded_truth = served.coded(data, protocol.ground_truth(whole))
    shelves = served.served_rankings(algorithm("itemknn")().fit(coded_data), coded_data, coded_truth)
    as_ids = {user: [data.item_ids[i] for i in shelf] for user, shelf in shelves.items()}
    assert as_ids != raw
    assert all(
        len(shelf) == 20 and not set(shelf) & set(data.item_ids[data.matrix[data.user_index(user)].indices])
        for user, shelf in as_ids.items()
    )
    # The same seed, the same shelves.
    assert served.served_rankings(algorithm("itemknn")().fit(coded_data), coded_data, coded_truth) == shelves
