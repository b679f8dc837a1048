"""Clusters as segments: the simulator's personas recovered, members where pages and rules read
them, and a re-cluster that moves shoppers with their entries and exits recorded."""

import time
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_redis import get_redis_connection
from sklearn.metrics import adjusted_rand_score

from segments.clustering import ClusteringError, cluster_events, clusters_recluster
from segments.clusters import clusters_fit, features_from_events
from segments.models import Clustering, Membership, Segment
from segments.services import owner_segments, segments_backfill, segments_ingest
from segments.tasks import clusters_recluster_task
from shop.keyspace import segment_members_key
from shop.simulator.services import shoppers_simulate
from tests.factories.catalog import ProductFactory, simulator_catalog_build
from tests.factories.segments import SegmentFactory
from tests.factories.tracking import EventFactory, RawEventFactory
from tracking.analytics.dates import run_time_text
from tracking.identity import VISITOR_COOKIE
from tracking.importers import default_path
from tracking.models import Event
from tracking.owners import owner_key

pytestmark = pytest.mark.django_db

# 72 shoppers are eight of the simulator's persona cycles (two or three of each persona apiece):
# about 8 s to simulate through the ingest on the shared 2-core machine.
SHOPPERS = 72


def open_members() -> dict[str, set[str]]:
    """Segment slug -> owners the record has in it now."""
    members: dict[str, set[str]] = {}
    rows = Membership.objects.filter(exited_at__isnull=True, segment__cluster__isnull=False)
    for slug, owner in rows.values_list("segment__slug", "owner"):
        members.setdefault(slug, set()).add(owner)
    return members


def test_clusters_recover_the_simulators_personas_and_become_segments():
    simulator_catalog_build()
    report = shoppers_simulate(visitors=SHOPPERS, seed=11, days=3)
    started = time.perf_counter()
    result = clusters_recluster()
    seconds = time.perf_counter() - started

    run = result.clustering
    members = open_members()
    label_of = {owner: slug for slug, owners in members.items() for owner in owners}
    owners = sorted(label_of)
    truth = [report.visitors[uuid.UUID(owner.removeprefix("v:"))] for owner in owners]
    ari = adjusted_rand_score(truth, [label_of[owner] for owner in owners])
    print(f"\nARI {ari:.3f}, k {run.k}, silhouette {run.silhouette:.3f}, {seconds:.2f} s for {SHOPPERS} shoppers")
    assert ari >= 0.7
    assert len(owners) == SHOPPERS == run.owners
    assert run.k == len(members) == Segment.objects.filter(cluster__isnull=False, is_active=True).count()
    assert result.entered == SHOPPERS and result.exited == 0
    # Each cluster is named in a merchandiser's words, and its segment and the run's record agree.
    names = {cluster["segment"]: cluster["name"] for cluster in run.clusters}
    assert "Sort by price, discount seekers" in names.values()
    for segment in Segment.objects.filter(cluster__isnull=False):
        assert segment.name == names[segment.slug]
        assert segment.last_evaluated_at >= run.created_at
        assert sum(cluster["size"] for cluster in run.clusters if cluster["segment"] == segment.slug) == len(
            members[segment.slug]
        )
    # Pages, rules and experiments read the owner's set in Redis: it holds the cluster.
    redis = get_redis_connection("default")
    for slug, owners_in in members.items():
        assert {member.decode() for member in redis.smembers(segment_members_key(slug))} == owners_in
    some = owners[0]
    assert owner_segments(owner=some) == {label_of[some]}


def browsing(visitor: uuid.UUID) -> list:
    now, session = timezone.now(), uuid.uuid4()
    events = []
    for minute in range(12):
        at = now - timedelta(hours=2, minutes=minute)
        events.append(EventFactory.build(visitor_id=visitor, session_id=session, name="view_item", client_ts=at))
        if minute % 2:
            events.append(
                EventFactory.build(visitor_id=visitor, session_id=session, name="add_to_wishlist", client_ts=at)
            )
    return events


def buying(visitor: uuid.UUID) -> list:
    now = timezone.now()
    return [
        EventFactory.build(
            visitor_id=visitor,
            session_id=uuid.uuid4(),
            name="purchase",
            source="server",
            client_ts=now - timedelta(days=order + 1),
            properties={"value": 80.0, "items": [{"item_id": "7", "price": 80.0}]},
        )
        for order in range(4)
    ]


def owners_of(visitors) -> set[str]:
    return {owner_key(user_id=None, visitor_id=visitor) for visitor in visitors}


@pytest.fixture
def two_kinds():
    """Twenty wishlisting browsers and twenty buyers of many orders in the record, as owners."""
    browsers, buyers = [uuid.uuid4() for _ in range(20)], [uuid.uuid4() for _ in range(20)]
    Event.objects.bulk_create(
        [event for visitor in browsers for event in browsing(visitor)]
        + [event for visitor in buyers for event in buying(visitor)]
    )
    return owners_of(browsers), owners_of(buyers)


def test_a_recluster_keeps_a_group_in_its_segment_and_records_who_moved(two_kinds):
    browsers, buyers = two_kinds
    first = clusters_recluster(k=2)
    before = open_members()
    assert set(map(frozenset, before.values())) == {frozenset(browsers), frozenset(buyers)}
    browsing_slug = next(slug for slug, owners in before.items() if owners == browsers)

    # Five browsers start buying as the buyers do: the next run moves them, and only them.
    movers = sorted(browsers)[:5]
    visitors = [uuid.UUID(owner.removeprefix("v:")) for owner in movers]
    Event.objects.filter(visitor_id__in=visitors).delete()
    Event.objects.bulk_create([event for visitor in visitors for event in buying(visitor)])
    second = clusters_recluster(k=2)
    after = open_members()
    assert second.clustering.pk != first.clustering.pk
    assert set(after) == set(before), "a group that stays keeps its segment, so rules naming it keep working"
    assert after[browsing_slug] == browsers - set(movers)
    buying_slug = next(slug for slug in after if slug != browsing_slug)
    assert after[buying_slug] == buyers | set(movers)
    assert second.entered == second.exited == 5
    left = Membership.objects.filter(segment__slug=browsing_slug, owner__in=movers)
    assert all(stay.exited_at is not None for stay in left)
    assert owner_segments(owner=movers[0]) == {buying_slug}

    # Three clusters then two again: the segment that lost its cluster is emptied and switched off.
    clusters_recluster(k=3)
    assert Segment.objects.filter(cluster__isnull=False, is_active=True).count() == 3
    clusters_recluster(k=2)
    gone = Segment.objects.get(cluster__isnull=False, is_active=False)
    assert not gone.memberships.filter(exited_at__isnull=True).exists()
    assert not get_redis_connection("default").smembers(segment_members_key(gone.slug))
    assert Clustering.objects.count() == 4


def test_the_live_path_and_the_backfill_keep_cluster_memberships(two_kinds):
    browsers, _ = two_kinds
    SegmentFactory(slug="viewers", definition={"event": "view_item", "within": "1d"})
    clusters_recluster(k=2)
    owner = sorted(browsers)[0]
    cluster = next(iter(owner_segments(owner=owner)))
    # A Redis flush rebuilt from Postgres puts the owner back in their cluster beside the live segment.
    get_redis_connection("default").flushdb()
    segments_backfill()
    assert owner_segments(owner=owner) == {cluster, "viewers"}
    # A new batch judged live leaves the cluster alone (it is not the evaluator's to judge).
    from segments.services import catalogue_load
    from shop.keyspace import RedisBatch, redis_client

    batch = RedisBatch(redis_client())
    segments_ingest(owner=owner, events=[], batch=batch, catalogue=catalogue_load())
    batch.execute()
    assert cluster in owner_segments(owner=owner)


def test_a_condition_naming_a_cluster_is_refused_on_save(two_kinds):
    clusters_recluster(k=2)
    cluster = Segment.objects.filter(cluster__isnull=False).first()
    segment = Segment(slug="mixed", name="Mixed", definition={"segment": cluster.slug})
    with pytest.raises(ValidationError, match="is a cluster"):
        segment.full_clean()


def test_the_command_reports_progress_and_the_clusters(two_kinds):
    out, err = StringIO(), StringIO()
    call_command("recluster", "--method", "hierarchical", "--k", "2", stdout=out, stderr=err)
    assert "reading the record" in err.getvalue()
    assert "Hierarchical (Ward): 2 clusters of 40 shoppers" in out.getvalue()
    assert "cluster-1:" in out.getvalue() and "cluster-2:" in out.getvalue()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--k", "1"], "k is from 2 to 8"), (["--k", "30"], "k is from 2 to 8")],
)
def test_the_command_refuses_a_bad_k(two_kinds, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("recluster", *arguments, stdout=StringIO(), stderr=StringIO())
    assert not Clustering.objects.exists()


def test_too_few_shoppers_is_a_message_and_the_task_keeps_the_segments():
    EventFactory()
    with pytest.raises(ClusteringError, match="1 shoppers in the record; clusters need at least 20"):
        clusters_recluster()
    assert clusters_recluster_task() == {"error": "1 shoppers in the record; clusters need at least 20"}
    assert not Segment.objects.exists()


def test_the_task_runs_the_same_service(two_kinds):
    result = clusters_recluster_task(method="kmeans", k=2)
    run = Clustering.objects.get()
    assert result == {
        "clustering": run.pk,
        "k": 2,
        "silhouette": round(run.silhouette, 3),
        "seconds": round(run.seconds, 2),
    }


ONLINE_RETAIL = default_path("online_retail")


@pytest.mark.skipif(not ONLINE_RETAIL.is_file(), reason=f"{ONLINE_RETAIL} is absent")
def test_online_retail_customers_cluster_by_recency_frequency_and_value():
    events = cluster_events(dataset="online_retail")
    features = features_from_events(events, now=events["at"].max() + timedelta(days=1))
    started = time.perf_counter()
    fit = clusters_fit(features)
    seconds = time.perf_counter() - started
    print(f"\nOnline Retail: {len(features)} customers, k {fit.k}, silhouette {fit.silhouette:.3f}, {seconds:.1f} s")
    assert len(features) > 4000
    assert fit.silhouette > 0.25
    assert any("frequent buyers" in name for name in fit.names.values())


def test_staff_read_a_run_with_its_chart_and_a_cluster_segment_without_a_definition(staff_client, two_kinds):
    run = clusters_recluster(k=2).clustering
    page = staff_client.get(f"/admin/segments/clustering/{run.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Shoppers per cluster" in body and "<svg" in body
    assert "wishlisters (wishlist_rate)" in body
    # The features' wide table scrolls in its own box; the score and the time read as a person writes them.
    assert '<div class="table-scroll"><table>' in body
    assert f'<div class="readonly">{run.silhouette:.3f}</div>' in body
    assert f'<div class="readonly">{run_time_text(run.seconds)}</div>' in body
    segment = Segment.objects.filter(cluster__isnull=False).first()
    page = staff_client.get(f"/admin/segments/segment/{segment.pk}/change/")
    assert page.status_code == 200
    assert 'name="definition"' not in page.content.decode()
    assert f"/admin/segments/clustering/{run.pk}/change/" in page.content.decode()


def test_the_next_page_knows_the_visitors_cluster(client, two_kinds):
    ProductFactory.create_batch(4)
    client.post(reverse("tracking:consent"), {"choice": "granted"})
    client.post(
        reverse("tracking:collect"),
        data={"events": [RawEventFactory(name="view_item", product_id=1)]},
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )
    owner = owner_key(user_id=None, visitor_id=uuid.UUID(client.cookies[VISITOR_COOKIE].value))
    assert client.get(reverse("home")).context["segments"] == frozenset()
    clusters_recluster(k=2)
    cluster = Membership.objects.get(owner=owner, exited_at__isnull=True).segment.slug
    # The context, the template tag and the stages (rules among them) read the same set.
    assert client.get(reverse("home")).context["segments"] == frozenset({cluster})
