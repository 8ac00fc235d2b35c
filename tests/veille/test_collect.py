"""The collector on both databases, against real HTTP on 127.0.0.1 (plugins.testing.feeds): RSS 2.0
and Atom collected once by their raw GUIDs, the conditional GET honoured (the fake's request log),
a malformed feed, a timeout and an HTTP error each broken after 3 errors without stopping the
others (a crisis feed's breaking raising a ``source_broken`` alert), scripts stripped, huge
entries truncated, a dismissed item never back, official alerts read with their level; and the
next check computed from the source's hints."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from sqlalchemy import delete, func, select

from core.audit import Actor
from core.db.enums import Role
from core.db.models import Notification, Persona, UsageAlert, VeilleItem, VeilleSource, VeilleTombstone
from core.people.staff import assign, create_staff
from core.runtime import Runtime
from core.veille import collect
from core.veille.collect import MAX_HTML, MAX_TEXT, collect_due, hinted_delay, next_check
from core.veille.sources import create_source, repair_source
from plugins.testing import serve_in_thread
from plugins.testing.feeds import FakeFeeds, item, rss_document

pytestmark = pytest.mark.anyio
ACTOR = Actor.system("test")
#: the runs' clock: just after the sources were created (they are due at once)
# a day ahead: the sources this module creates are due by then however long the suite ran before it
NOW = datetime.now(UTC) + timedelta(days=1)
#: the next-check unit test's clock (its HTTP dates are written against it)
FIXED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FakeFeeds, str]]:
    feeds = FakeFeeds()
    with serve_in_thread(feeds) as url:
        yield feeds, url


@pytest.fixture
def feeds(fake: tuple[FakeFeeds, str]) -> FakeFeeds:
    server, _ = fake
    # each test starts from the built-in documents, with an empty log
    fresh = FakeFeeds()
    server.documents, server.requests, server.slow_s = fresh.documents, [], fresh.slow_s
    return server


@pytest.fixture
def base(fake: tuple[FakeFeeds, str]) -> str:
    return fake[1]


async def _persona(runtime: Runtime, keywords: list[str] | None = None) -> Persona:
    async with runtime.session() as session:
        persona = Persona(
            slug=f"p-{uuid.uuid4().hex[:6]}",
            name="Région",
            kind="institution",
            embodies=False,
            timezone="Europe/Paris",
            definition={"veille": {"keywords": keywords or ["Évacuation", "crue"]}},
        )
        session.add(persona)
    return persona


async def _source(
    runtime: Runtime, persona: Persona, url: str, *, plugin: str = "rss", crisis: bool | None = None
) -> uuid.UUID:
    async with runtime.session() as session:
        source = await create_source(
            session, persona, kind="feed", plugin=plugin, target=url, label=url, crisis=crisis, actor=ACTOR
        )
        return source.id


async def _items(runtime: Runtime, source_id: uuid.UUID) -> list[VeilleItem]:
    async with runtime.sessions() as session:
        query = select(VeilleItem).where(VeilleItem.source_id == source_id).order_by(VeilleItem.guid)
        return list((await session.scalars(query)).all())


async def _get(runtime: Runtime, source_id: uuid.UUID) -> VeilleSource:
    async with runtime.sessions() as session:
        source = await session.get(VeilleSource, source_id)
        assert source is not None
        return source


def _later(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


# ------------------------------------------------------------------ collected once, politely


async def test_rss_and_atom_are_collected_once_with_a_conditional_get(
    runtime: Runtime, feeds: FakeFeeds, base: str
) -> None:
    runtime.settings = msgspec.structs.replace(runtime.settings, public_url="https://portevoix.region.example")
    persona = await _persona(runtime)
    rss = await _source(runtime, persona, f"{base}/rss")
    atom = await _source(runtime, persona, f"{base}/atom")

    first = await collect_due(runtime, now=NOW)
    assert (first.sources, first.items, first.errors) == (2, 5, 0)
    items = await _items(runtime, rss)
    # the raw GUIDs (feedparser would have made "g1" a URL against the feed's address)
    assert [i.guid for i in items] == ["g1", "g2", "g3"]
    assert items[0].title == "Crue de la Garonne : la Région mobilise"
    assert items[0].summary_html == "<p>Les <b>pompiers</b> sont sur place.</p>"
    assert items[0].summary_text == "Les pompiers sont sur place."
    assert items[0].keywords == ["crue"]
    assert items[1].summary_text == "Animations & concerts"
    assert items[0].published_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert len({i.content_hash for i in items}) == 3
    assert [i.guid for i in await _items(runtime, atom)] == [
        "tag:prefecture.example,2026:1",
        "tag:prefecture.example,2026:2",
    ]

    source = await _get(runtime, rss)
    assert source.etag == feeds.documents["/rss"].etag and source.last_modified == feeds.documents["/rss"].last_modified
    # RSS <ttl>90</ttl> (minutes) is the largest hint: 90 minutes, plus at most 10 % jitter
    assert timedelta(minutes=90) <= source.next_check_at - NOW <= timedelta(minutes=99)

    # not due yet: nothing fetched
    assert (await collect_due(runtime, now=_later(1))).sources == 0
    second = await collect_due(runtime, now=_later(2))
    assert (second.sources, second.items, second.not_modified) == (2, 0, 2)
    first_get, conditional = feeds.log("/rss")
    assert "if-none-match" not in first_get.headers and first_get.status == 200
    assert conditional.headers["if-none-match"] == source.etag
    assert conditional.headers["if-modified-since"] == source.last_modified
    assert conditional.status == 304
    assert first_get.headers["user-agent"] == "Porte-voix/1 (veille; +https://portevoix.region.example)"
    assert len(await _items(runtime, rss)) == 3

    # the feed changes: one new item, the three known ones not stored twice
    feeds.put("/rss", rss_document([*map(_rss_item, ("g1", "g2", "g3")), item("g4", "Nouveau")]))
    third = await collect_due(runtime, now=_later(4))
    assert third.items == 1
    assert [i.guid for i in await _items(runtime, rss)] == ["g1", "g2", "g3", "g4"]


def _rss_item(guid: str):
    return item(guid, f"Titre {guid}")


async def test_a_server_that_ignores_the_conditional_get_is_read_as_not_modified(
    runtime: Runtime, feeds: FakeFeeds, base: str
) -> None:
    feeds.documents["/rss"].conditional = False
    persona = await _persona(runtime)
    rss = await _source(runtime, persona, f"{base}/rss")
    await collect_due(runtime, now=NOW)
    again = await collect_due(runtime, now=_later(3))
    assert (again.not_modified, again.items) == (1, 0)
    assert [r.status for r in feeds.log("/rss")] == [200, 200]
    assert len(await _items(runtime, rss)) == 3


# ------------------------------------------------------------------ errors, broken sources


async def test_errors_break_a_source_after_three_and_a_broken_crisis_feed_is_an_alert(
    runtime: Runtime, feeds: FakeFeeds, base: str
) -> None:
    persona = await _persona(runtime)
    async with runtime.session() as session:
        manager = await create_staff(
            session, email="m@region.example", display_name="Manager", password="x" * 16, actor=ACTOR
        )
        await assign(session, manager, await session.get(Persona, persona.id), Role.MANAGER, actor=ACTOR)
    feeds.slow_s = 1.5
    malformed = await _source(runtime, persona, f"{base}/malformed")
    slow = await _source(runtime, persona, f"{base}/slow")
    crisis = await _source(runtime, persona, f"{base}/status/503", plugin="vigicrues")
    good = await _source(runtime, persona, f"{base}/rss")

    for run in range(3):
        result = await collect_due(runtime, now=_later(25 * run), timeout_s=0.5)
        assert result.errors == 3
    # the good feed was read alongside, every time
    assert len(await _items(runtime, good)) == 3

    broken = {s: await _get(runtime, s) for s in (malformed, slow, crisis)}
    assert all(s.broken_at is not None and s.consecutive_errors == 3 for s in broken.values())
    assert broken[malformed].last_error.startswith("FeedError: not a well-formed feed")
    assert broken[slow].last_error == "no answer within 0.5 s"
    assert broken[crisis].last_error == "HTTP 503" and broken[crisis].crisis
    # Retry-After: 120 s is below the crisis feed's 10 minutes: the fixed interval held
    assert len(feeds.log("/malformed")) == 3

    # broken: no longer polled
    later = await collect_due(runtime, now=_later(100))
    assert later.sources == 1 and len(feeds.log("/malformed")) == 3

    async with runtime.sessions() as session:
        alerts = (await session.scalars(select(UsageAlert).where(UsageAlert.kind == "source_broken"))).all()
        assert [(a.subject, a.resolved_at) for a in alerts] == [(str(crisis), None)]
        assert alerts[0].detail["error"] == "HTTP 503"
        told = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.subject_id == alerts[0].id)
        )
        assert told >= 1
        # only the crisis feed is an alert
        assert await session.scalar(select(func.count()).select_from(UsageAlert)) == 1

    async with runtime.session() as session:
        source = await session.get(VeilleSource, crisis)
        await repair_source(session, source, actor=ACTOR)
    async with runtime.sessions() as session:
        alert = await session.scalar(select(UsageAlert).where(UsageAlert.kind == "source_broken"))
        assert alert.resolved_at is not None
    assert (await _get(runtime, crisis)).broken_at is None


async def test_one_success_clears_the_error_count(runtime: Runtime, feeds: FakeFeeds, base: str) -> None:
    persona = await _persona(runtime)
    source = await _source(runtime, persona, f"{base}/flaky")
    feeds.put("/flaky", b"", status=500, validators=False)
    await collect_due(runtime, now=NOW)
    await collect_due(runtime, now=_later(2))
    assert (await _get(runtime, source)).consecutive_errors == 2
    feeds.put("/flaky", rss_document([item("f1", "Revenu")]))
    await collect_due(runtime, now=_later(4))
    healed = await _get(runtime, source)
    assert (healed.consecutive_errors, healed.last_error, healed.broken_at) == (0, None, None)


# ------------------------------------------------------------------ hostile content


async def test_scripts_are_stripped_and_huge_entries_truncated(runtime: Runtime, feeds: FakeFeeds, base: str) -> None:
    persona = await _persona(runtime)
    script = await _source(runtime, persona, f"{base}/script")
    huge = await _source(runtime, persona, f"{base}/huge")
    run = await collect_due(runtime, now=NOW)
    assert run.errors == 0
    [hostile] = await _items(runtime, script)
    assert hostile.title == "Alerte évacuation"
    assert "<script" not in hostile.summary_html and "onclick" not in hostile.summary_html
    assert 'href="https://ex.example/"' in hostile.summary_html and "noopener" in hostile.summary_html
    assert hostile.summary_text == "Texte lien"
    assert hostile.url is None  # a javascript: link never reaches the board
    assert hostile.keywords == ["Évacuation"]  # folded: "évacuation" in the title
    [big] = await _items(runtime, huge)
    assert len(big.summary_html) <= MAX_HTML and len(big.summary_text) == MAX_TEXT


async def test_a_body_over_the_cap_is_an_error_not_a_crash(runtime: Runtime, feeds: FakeFeeds, base: str) -> None:
    persona = await _persona(runtime)
    huge = await _source(runtime, persona, f"{base}/huge")
    run = await collect_due(runtime, now=NOW, max_body=100_000)
    assert (run.errors, run.items) == (1, 0)
    assert (await _get(runtime, huge)).last_error == "the body is larger than 100,000 bytes"


async def test_a_dismissed_item_never_comes_back(runtime: Runtime, feeds: FakeFeeds, base: str) -> None:
    persona = await _persona(runtime)
    rss = await _source(runtime, persona, f"{base}/rss")
    await collect_due(runtime, now=NOW)
    [first, *_] = await _items(runtime, rss)
    async with runtime.session() as session:
        # what the board's dismissal leaves (core.veille.board): a tombstone; the item purged
        session.add(VeilleTombstone(source_id=rss, dedup_key=first.dedup_key))
        await session.execute(delete(VeilleItem).where(VeilleItem.id == first.id))
    # the feed changed (no 304): every entry is read again
    feeds.put("/rss", rss_document([*map(_rss_item, ("g1", "g2", "g3"))], title="Autre"))
    again = await collect_due(runtime, now=_later(3))
    assert again.items == 0
    assert [i.guid for i in await _items(runtime, rss)] == ["g2", "g3"]


# ------------------------------------------------------------------ official alerts


async def test_official_alerts_carry_their_level_and_area(runtime: Runtime, feeds: FakeFeeds, base: str) -> None:
    persona = await _persona(runtime)
    cap = await _source(runtime, persona, f"{base}/cap", plugin="meteoalarm")
    vigi = await _source(runtime, persona, f"{base}/vigicrues", plugin="vigicrues")
    await collect_due(runtime, now=NOW)
    [warning] = await _items(runtime, cap)
    assert (warning.severity, warning.area) == ("orange", "Haute-Garonne")
    assert warning.title == "Orange Thunderstorm Warning issued for France - Haute-Garonne"
    sections = await _items(runtime, vigi)
    # the green section brings nothing
    assert [(i.guid, i.severity, i.area) for i in sections] == [
        ("GA2:yellow", "yellow", "Garonne toulousaine"),
        ("TA3:orange", "orange", "Tarn albigeois"),
    ]
    # crisis feeds: the fixed 10 minutes, whatever the server says
    source = await _get(runtime, cap)
    assert source.crisis and timedelta(minutes=10) <= source.next_check_at - NOW <= timedelta(minutes=11)


# ------------------------------------------------------------------ the next check


def test_the_next_check_is_the_largest_hint_clamped() -> None:
    def delay(status: int = 200, ttl: int | None = None, fixed: int | None = None, **headers: str) -> float:
        return hinted_delay(
            status=status,
            headers={k.replace("_", "-"): v for k, v in headers.items()},
            now=FIXED,
            ttl_s=ttl,
            fixed_s=fixed,
        )

    assert delay() == 3600
    assert delay(ttl=2 * 3600) == 7200
    assert delay(cache_control="public, max-age=10800") == 10800
    assert delay(cache_control="no-cache, max-age=10800") == 3600
    assert delay(Expires="Tue, 01 Dec 2026 13:00:00 GMT") == 4 * 3600
    assert delay(cache_control="no-cache", Expires="Tue, 01 Dec 2026 13:00:00 GMT") == 3600
    assert delay(Expires="not a date") == 3600
    # Retry-After only on 429 and 503, in seconds or as a date
    assert delay(429, Retry_After="7200") == 7200
    assert delay(503, Retry_After="Tue, 01 Dec 2026 12:00:00 GMT") == 3 * 3600
    assert delay(200, Retry_After="7200") == 3600
    # clamped to [5 min, 24 h]
    assert delay(ttl=10**7) == 24 * 3600
    assert delay(429, Retry_After="999999") == 24 * 3600
    assert delay(fixed=60) == 300
    # a fixed interval (crisis feeds) ignores the caching hints, not Retry-After
    assert delay(fixed=600, ttl=7200, cache_control="max-age=7200") == 600
    assert delay(503, fixed=600, Retry_After="1800") == 1800

    rng = random.Random(7)
    checks = [next_check(3600, FIXED, rng) - FIXED for _ in range(200)]
    assert all(timedelta(hours=1) <= c <= timedelta(hours=1, minutes=6) for c in checks)
    assert len(set(checks)) > 100  # spread, not in step
    assert next_check(24 * 3600, FIXED, rng) - FIXED == timedelta(hours=24)


def test_dedup_keys_degrade_on_guid_collisions() -> None:
    from core.veille.feeds import FeedEntry

    entries = [
        FeedEntry(guid="same", url="https://a.example/1"),
        FeedEntry(guid="same", url="https://a.example/2"),
        FeedEntry(guid="same", url="https://a.example/2"),
        FeedEntry(url="https://a.example/3"),
        FeedEntry(title="sans lien"),
        FeedEntry(url="https://a.example/3"),
    ]
    keys = collect.dedup_keys(entries, [e.title for e in entries], ["" for _ in entries])
    assert keys[0] == collect.sha256("guid", "same")
    assert keys[1] == collect.sha256("guid+url", "same", "https://a.example/2")
    assert keys[2] == collect.sha256("guid+index", "same", "2")
    assert keys[3] == collect.sha256("url", "https://a.example/3")
    assert keys[4] == collect.sha256("content", "sans lien", "")
    assert keys[5] == ""  # the same URL twice in one document: one item


def test_relative_links_are_resolved_against_the_feed() -> None:
    from plugins.feeds.rss import RssFeed

    body = rss_document([item("r1", "Relatif", link="/article", description='<a href="/page">voir</a>')])
    [entry] = RssFeed().parse(body, "https://presse.example/fil/rss.xml", {}).entries
    assert entry.url == "https://presse.example/article"
    assert 'href="https://presse.example/page"' in entry.summary
    assert entry.guid == "r1"


# ------------------------------------------------------------------ private addresses (SSRF)


async def test_a_feed_on_a_private_address_is_refused_unless_the_instance_allows_it(
    runtime: Runtime, base: str
) -> None:
    import msgspec

    from core.veille.collect import Fetcher, FetchError

    closed = Runtime(msgspec.structs.replace(runtime.settings, veille_private_hosts=False))
    try:
        persona = await _persona(closed)
        source_id = await _source(closed, persona, f"{base}/rss")
        run = await collect_due(closed, now=NOW)
        assert (run.errors, run.items) == (1, 0)
        refused = await _get(closed, source_id)
        assert refused.last_error is not None and "private address" in refused.last_error
        assert await _items(closed, source_id) == []
    finally:
        await closed.aclose()
    fetcher = Fetcher(msgspec.structs.replace(runtime.settings, veille_private_hosts=False))
    try:
        for url in (
            "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
            "http://10.0.0.7/rss",
            "http://[::1]:6379/",
            "http://100.64.0.1/",  # shared address space
            "ftp://presse.example/rss",
        ):
            with pytest.raises(FetchError):
                await fetcher._public(url)
        await fetcher._public("http://93.184.216.34/rss")  # a public address: no refusal
    finally:
        await fetcher.aclose()


async def test_redirects_are_followed_hop_by_hop(runtime: Runtime, feeds: FakeFeeds, base: str) -> None:
    feeds.put("/moved", b"", status=301, headers={"location": "/rss"}, validators=False)
    feeds.put("/away", b"", status=302, headers={"location": "ftp://presse.example/rss"}, validators=False)
    persona = await _persona(runtime)
    moved = await _source(runtime, persona, f"{base}/moved")
    away = await _source(runtime, persona, f"{base}/away")
    await collect_due(runtime, now=NOW)
    assert len(await _items(runtime, moved)) == 3  # the RSS behind the redirect
    refused = await _get(runtime, away)
    assert refused.last_error is not None and "not an http(s) address" in refused.last_error
