"""The conformance suite every channel plugin runs: the host's expectations, as tests.

Use it as a pytest base class, against the plugin's fake network::

    from plugins.testing.conformance import ChannelConformance

    class TestMyChannel(ChannelConformance):
        @pytest.fixture(scope="class")
        @classmethod
        def plugin_class(cls):
            return MyChannel

        @pytest.fixture(scope="class")
        @classmethod
        def fake(cls):
            return MyFake()          # a FakeNetwork with a make_account() helper

        @pytest.fixture
        def sample_drafts(self):
            return {Format.POST: Draft(text="Bonjour"), Format.PHOTO: Draft(text="…", format=Format.PHOTO, media=(...))}

The static checks are also plain functions (:func:`plugin_class_problems` and friends) that
return the problems found, for use outside pytest.

What it checks:

* identity and capabilities: key and name set, a supported contract version, every declared
  :class:`Feature` backed by an implemented operation and every implemented operation
  declared (*capability honesty*), coherent format and media rules, a valid sample draft for
  every declared format;
* the happy path of every declared operation, against the fake over real HTTP;
* dry run: ``prepare_publish`` describes the request without sending it, and without secrets;
* error mapping through ``fake.fail_next``: ``rate_limited`` → :class:`RateLimited` with a
  positive ``retry_after``; ``expired`` → :class:`CredentialsExpired`; ``rejected`` →
  :class:`Rejected` carrying the network's message; ``server_error``, ``timeout``, ``drop``
  → :class:`Transient`;
* ``reconcile``: idempotent, and ``None`` for a draft never published — also after a publish
  whose answer came too late; exact with look-alikes (the same text with another link, entities,
  double spaces, emoji, newlines), no guess between two identical posts (:class:`Ambiguous` or
  the right one), blind to an identical post older than the window, and bounded by the window
  rather than a count (60 newer posts in between);
* moderation (``HIDE``, ``DELETE_COMMENTS``, ``BAN``): each declared operation acts on a comment
  the fake holds and the fake's state shows it — read through the fake's ``is_hidden(remote_id)``,
  ``is_deleted(remote_id)`` and ``is_blocked(author_id)``; a second delete of the same comment
  succeeds (already gone counts as deleted);
* every successful response's rate-limit headers reach the :class:`UsageRecorder`.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any, ClassVar

import httpx
import msgspec
import pytest

from core.channels import (
    CONTRACT_VERSION,
    ENTRY_POINT_GROUP,
    FEATURE_OPERATIONS,
    AccountMetrics,
    AccountRef,
    Ambiguous,
    AuthorizationRequest,
    Capabilities,
    ChannelError,
    ChannelPlugin,
    ChannelSettings,
    Credentials,
    CredentialsExpired,
    Draft,
    Feature,
    Format,
    InboxKind,
    InboxPage,
    MediaKind,
    PostMetrics,
    PreparedRequest,
    PublishResult,
    RateLimited,
    Rejected,
    RemoteItem,
    TokenSet,
    Transient,
    UsageReport,
    operation_features,
    validate_draft,
)
from plugins.testing.fake import FakeNetwork, serve_in_thread

# ---------------------------------------------------------------------- what "honest" means

#: formats whose media must include a kind
FORMAT_MEDIA: dict[Format, tuple[MediaKind, ...]] = {
    Format.PHOTO: (MediaKind.IMAGE,),
    Format.VIDEO: (MediaKind.VIDEO,),
    Format.REEL: (MediaKind.VIDEO,),
    Format.CAROUSEL: (MediaKind.IMAGE, MediaKind.VIDEO),
}
#: the key names settings variables, PORTEVOIX_CHANNEL_<KEY>_<FIELD>, split at the first "_"
_KEY = re.compile(r"^[a-z][a-z0-9]{0,31}$")
#: response headers that carry rate-limit state, across the networks we know
RATE_HEADER = re.compile(r"^(x-)?(rate-?limit|app-usage|business-use-case-usage|ad-account-usage)", re.IGNORECASE)


def implements(plugin_class: type[ChannelPlugin], operation: str) -> bool:
    """Whether the class overrides ``operation`` (the base one only raises NotSupported)."""
    return getattr(plugin_class, operation, None) is not getattr(ChannelPlugin, operation)


def identity_problems(plugin_class: type[ChannelPlugin]) -> list[str]:
    problems: list[str] = []
    key = getattr(plugin_class, "key", None)
    if not isinstance(key, str) or not _KEY.match(key):
        problems.append(
            f"key {key!r} must be lower-case letters and digits (it names PORTEVOIX_CHANNEL_<KEY>_* settings)"
        )
    if not str(getattr(plugin_class, "name", "") or "").strip():
        problems.append("name must be set: it is shown to people")
    base = getattr(plugin_class, "default_base_url", None)
    if not isinstance(base, str) or not base.startswith(("https://", "http://")):
        problems.append(f"default_base_url {base!r} must be an http(s) URL")
    if CONTRACT_VERSION not in getattr(plugin_class, "contract_versions", ()):
        problems.append(
            f"contract_versions {sorted(getattr(plugin_class, 'contract_versions', ()))} "
            f"does not include the host's {CONTRACT_VERSION!r}"
        )
    if not isinstance(getattr(plugin_class, "capabilities", None), Capabilities):
        problems.append("capabilities must be a core.channels.Capabilities")
    return problems


def honesty_problems(plugin_class: type[ChannelPlugin]) -> list[str]:
    """Declared features without their operations, and operations without their feature, by
    the contract's table (:data:`core.channels.FEATURE_OPERATIONS`)."""
    features = plugin_class.capabilities.features
    problems: list[str] = []
    for feature in sorted(features):
        table = FEATURE_OPERATIONS[feature]
        problems += [
            f"declares {feature.value} but does not implement {operation}()"
            for operation in table.required
            if not implements(plugin_class, operation)
        ]
        if table.any_of and not any(implements(plugin_class, op) for op in table.any_of):
            problems.append(f"declares {feature.value} but implements none of {', '.join(table.any_of)}")
        if table.needs is not None and table.needs not in features:
            problems.append(f"declares {feature.value} without {table.needs.value}")
    operations = sorted({op for table in FEATURE_OPERATIONS.values() for op in table.operations})
    for operation in operations:
        allowed = sorted(operation_features(operation))
        if implements(plugin_class, operation) and not features.intersection(allowed):
            problems.append(f"implements {operation}() but declares none of " + ", ".join(f.value for f in allowed))
    return problems


def format_problems(capabilities: Capabilities) -> list[str]:
    """Format and media rules that contradict themselves (and so would refuse every draft)."""
    problems: list[str] = []
    if capabilities.text.limit <= 0:
        problems.append(f"text limit {capabilities.text.limit} must be positive")
    if not capabilities.formats:
        problems.append("no format declared")
    seen = [rules.format for rules in capabilities.formats]
    problems += [f"format {fmt.value} declared twice" for fmt in set(seen) if seen.count(fmt) > 1]
    for rules in capabilities.formats:
        problems += [f"{rules.format.value}: {problem}" for problem in _one_format_problems(rules)]
    return problems


def _one_format_problems(rules: Any) -> list[str]:
    problems: list[str] = []
    if not 0 <= rules.min_media <= rules.max_media:
        problems.append(f"needs 0 <= min_media ({rules.min_media}) <= max_media ({rules.max_media})")
    kinds = [media.kind for media in rules.media]
    if rules.max_media > 0 and not kinds:
        problems.append(f"accepts {rules.max_media} media but declares no media rules")
    if not rules.text_allowed and rules.max_media == 0:
        problems.append("allows neither text nor media")
    problems += [f"media kind {kind.value} declared twice" for kind in set(kinds) if kinds.count(kind) > 1]
    expected = FORMAT_MEDIA.get(rules.format, ())
    if expected and not set(expected) & set(kinds):
        problems.append(f"accepts no {' or '.join(k.value for k in expected)}")
    for media in rules.media:
        problems += [f"{media.kind.value}: {problem}" for problem in _media_problems(media, rules.max_media)]
    return problems


def _media_problems(media: Any, max_media: int) -> list[str]:
    problems: list[str] = []
    if not 1 <= media.max_count <= max(max_media, 1):
        problems.append(f"max_count {media.max_count} must be between 1 and the format's max_media {max_media}")
    if media.max_bytes is not None and media.max_bytes <= 0:
        problems.append("max_bytes must be positive")
    for low, high, what in (
        (media.min_aspect_ratio, media.max_aspect_ratio, "aspect ratio"),
        (media.min_duration_s, media.max_duration_s, "duration"),
    ):
        if low is not None and high is not None and low > high:
            problems.append(f"{what} minimum {low} is above its maximum {high}")
    if media.kind is MediaKind.IMAGE and (media.min_duration_s or media.max_duration_s):
        problems.append("images have no duration")
    if any("/" not in content_type for content_type in media.content_types):
        problems.append(f"content types must be MIME types: {sorted(media.content_types)}")
    return problems


def sample_problems(capabilities: Capabilities, samples: Mapping[Format, Draft]) -> list[str]:
    """Every declared format needs a sample draft, and each must pass ``validate_draft``."""
    problems: list[str] = []
    for rules in capabilities.formats:
        draft = samples.get(rules.format)
        if draft is None:
            problems.append(f"no sample draft for declared format {rules.format.value} (override sample_drafts)")
            continue
        if draft.format != rules.format:
            problems.append(f"sample for {rules.format.value} has format {draft.format.value}")
        problems += [f"{rules.format.value} sample: {v.code}: {v.message}" for v in validate_draft(capabilities, draft)]
    declared = {rules.format for rules in capabilities.formats}
    problems += [f"sample for undeclared format {fmt.value}" for fmt in samples if fmt not in declared]
    return problems


def plugin_class_problems(
    plugin_class: type[ChannelPlugin], samples: Mapping[Format, Draft] | None = None
) -> list[str]:
    """All static problems of a plugin class; empty when it conforms."""
    problems = identity_problems(plugin_class)
    if not isinstance(getattr(plugin_class, "capabilities", None), Capabilities):
        return problems
    problems += honesty_problems(plugin_class) + format_problems(plugin_class.capabilities)
    if samples is not None:
        problems += sample_problems(plugin_class.capabilities, samples)
    return problems


def assert_no_problems(problems: list[str], what: str) -> None:
    assert not problems, f"{what}:\n  - " + "\n  - ".join(problems)


# ---------------------------------------------------------------------- recording helpers


class RecordingUsageRecorder:
    """A UsageRecorder that keeps every report, for assertions."""

    def __init__(self) -> None:
        self.reports: list[UsageReport] = []

    def record(self, report: UsageReport) -> None:
        self.reports.append(report)


class ResponseLog:
    """Every response the plugin's HTTP client received (an httpx event hook, not a mock)."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    async def __call__(self, response: httpx.Response) -> None:
        self.responses.append(response)

    def rate_limited_headers(self) -> list[dict[str, str]]:
        """The rate-limit headers of each successful response that carried some."""
        found = []
        for response in self.responses:
            headers = {k.lower(): v for k, v in response.headers.items() if RATE_HEADER.match(k)}
            if headers and response.status_code < 400:
                found.append(headers)
        return found


def unique(draft: Draft, marker: str | None = None) -> Draft:
    """The draft with a fresh client_ref, and the ref appended to its text: networks refuse duplicates."""
    marker = marker or f"cf-{uuid.uuid4().hex[:10]}"
    text = f"{draft.text} {marker}" if draft.text else draft.text
    return msgspec.structs.replace(draft, client_ref=marker, text=text)


PluginFactory = Callable[..., ChannelPlugin]
Operation = Callable[[ChannelPlugin, AccountRef], Awaitable[object]]


# ---------------------------------------------------------------------- the suite


class ChannelConformance:
    """Base class of a plugin's conformance tests. Override the fixtures marked *override*.

    Operations whose feature is not declared are skipped, so the report lists what a plugin
    does not offer. Any other check is left out one way only: :attr:`skip_checks`.
    """

    #: client timeout used when the fake is told to answer too late (seconds)
    timeout_s: ClassVar[float] = 0.5
    #: how far the reconcile window reaches around the attempt
    reconcile_margin: ClassVar[timedelta] = timedelta(minutes=5)
    #: how coarse the network's creation times are, as the plugin reads them (whole seconds for
    #: most): the look-alike checks wait that long between an old post and a window after it
    reconcile_time_precision: ClassVar[timedelta] = timedelta(seconds=1)
    #: whether the network lets reconcile prove a post absent; where it only lists some posts (TikTok:
    #: public ones, after moderation), "not found" is :class:`Ambiguous` and the checks accept it
    reconcile_proves_absence: ClassVar[bool] = True
    #: The one way to leave a check out: its name (``test_…``, without parameters) → why it does
    #: not apply to this plugin. The check is skipped with that reason in the report. A name that
    #: is no check of the suite, or an empty reason, fails the run, so a skip cannot outlive
    #: the check it was for. To replace a check, skip it here and write your own beside.
    skip_checks: ClassVar[Mapping[str, str]] = {}

    @pytest.fixture(autouse=True)
    def _skip_checks(self, request: pytest.FixtureRequest) -> None:
        checks = {name for name in dir(ChannelConformance) if name.startswith("test_")}
        unknown = sorted(set(self.skip_checks) - checks)
        if unknown:
            pytest.fail(f"skip_checks names no check of the conformance suite: {unknown}")
        name = getattr(request.node, "originalname", request.node.name)
        if name in self.skip_checks:
            reason = self.skip_checks[name].strip()
            if not reason:
                pytest.fail(f"skip_checks[{name!r}] needs a reason: it is what the report shows")
            pytest.skip(f"skipped by {type(self).__name__}.skip_checks: {reason}")

    # ------------------------------------------------------------------ fixtures to override
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[ChannelPlugin]:
        """*override*: the plugin under test."""
        raise NotImplementedError("override the plugin_class fixture")

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> FakeNetwork:
        """*override*: an instance of the plugin's fake network (class-scoped: served once)."""
        raise NotImplementedError("override the fake fixture")

    @pytest.fixture
    def sample_drafts(self) -> Mapping[Format, Draft]:
        """*override*: one valid draft per declared format (the suite makes each unique)."""
        return {Format.POST: Draft(text="Conformance check from Porte-voix")}

    @pytest.fixture
    def account(self, fake: FakeNetwork) -> AccountRef:
        """An account the fake accepts; by default from the fake's ``make_account()``."""
        make_account = getattr(fake, "make_account", None)
        if make_account is None:
            raise NotImplementedError("give the fake a make_account() or override the account fixture")
        return make_account()  # type: ignore[no-any-return]

    @pytest.fixture
    def channel_settings(self, fake_url: str) -> ChannelSettings:
        """Settings pointing the plugin at the fake; override to add ``extra`` hosts."""
        return ChannelSettings(
            base_url=fake_url,
            client_id="conformance-client",
            client_secret="conformance-client-secret-7f3a9c",
            redirect_uri="http://127.0.0.1/oauth/callback",
            webhook_secret="conformance-webhook-secret-91d0e4",
        )

    @pytest.fixture
    def oauth_code(self) -> str:
        """An authorization code the fake's token endpoint accepts."""
        return "conformance-code"

    def seed_inbox(self, fake: FakeNetwork, account: AccountRef, remote_id: str) -> list[str]:
        """*override*: make the fake hold inbox items answering post ``remote_id``; return their ids."""
        return []

    async def reply_target(
        self, plugin: ChannelPlugin, account: AccountRef, fake: FakeNetwork, post: PublishResult
    ) -> RemoteItem:
        """*override* if replies need a real comment: what the reply test answers."""
        ids = self.seed_inbox(fake, account, post.remote_id)
        if ids and plugin.capabilities.supports(Feature.INBOX):
            items = await _all_inbox_items(plugin, account)
            return next(item for item in items if item.remote_id == ids[0])
        return RemoteItem(
            remote_id=post.remote_id,
            kind=InboxKind.COMMENT,
            text="",
            author_id=account.external_id,
            created_at=datetime.now(UTC),
            thread_id=post.remote_id,
        )

    async def moderation_target(
        self, plugin: ChannelPlugin, account: AccountRef, fake: FakeNetwork, post: PublishResult
    ) -> RemoteItem:
        """*override* if moderation needs another item: by default the first item :meth:`seed_inbox`
        makes that is no private message, as ``fetch_inbox`` returns it."""
        ids = self.seed_inbox(fake, account, post.remote_id)
        found = {item.remote_id: item for item in await _all_inbox_items(plugin, account)} if ids else {}
        for remote_id in ids:
            item = found.get(remote_id)
            if item is not None and item.kind is not InboxKind.MESSAGE:
                return item
        pytest.fail("the moderation checks need a comment on the post: override seed_inbox or moderation_target")

    def late_answer_path(self, fake: FakeNetwork) -> str | None:
        """*override* when the request creating a post has a varying path: a regex matching it."""
        return None

    async def seed_posts(
        self, plugin: ChannelPlugin, account: AccountRef, fake: FakeNetwork, drafts: list[Draft]
    ) -> None:
        """Make ``drafts`` exist as the account's newest posts, in this order (the reconcile checks
        put 60 of them after an attempt). By default they are published; *override* where the
        network's quotas forbid that many posts in a test (Instagram's 24 h limit, TikTok's
        posts per minute) and create them on the fake instead."""
        for draft in drafts:
            await plugin.publish(account, draft)

    # ------------------------------------------------------------------ plumbing fixtures
    @pytest.fixture(scope="class")
    @classmethod
    def fake_url(cls, fake: FakeNetwork) -> Iterator[str]:
        with serve_in_thread(fake) as url:
            yield url

    @pytest.fixture(autouse=True)
    def _fresh_fake(self, fake: FakeNetwork) -> Iterator[None]:
        fake.reset()  # forget requests and pending failures of earlier tests
        yield
        fake.reset()

    @pytest.fixture
    def usage(self) -> RecordingUsageRecorder:
        return RecordingUsageRecorder()

    @pytest.fixture
    def response_log(self) -> ResponseLog:
        return ResponseLog()

    @pytest.fixture
    async def make_plugin(
        self,
        plugin_class: type[ChannelPlugin],
        channel_settings: ChannelSettings,
        usage: RecordingUsageRecorder,
        response_log: ResponseLog,
    ) -> AsyncIterator[PluginFactory]:
        """Build the plugin as the host does, against the fake; ``timeout=`` shortens the client's."""
        built: list[ChannelPlugin] = []

        def build(*, timeout: float = 10.0) -> ChannelPlugin:
            http = httpx.AsyncClient(timeout=httpx.Timeout(timeout), event_hooks={"response": [response_log]})
            built.append(plugin_class(channel_settings, http=http, usage=usage))
            return built[-1]

        yield build
        for plugin in built:
            await plugin.aclose()

    @pytest.fixture
    def plugin(self, make_plugin: PluginFactory) -> ChannelPlugin:
        return make_plugin()

    # ------------------------------------------------------------------ static checks
    def test_identity_and_contract_version(self, plugin_class: type[ChannelPlugin]) -> None:
        assert_no_problems(identity_problems(plugin_class), f"{plugin_class.__qualname__} identity")

    def test_discoverable_through_its_entry_point(self, plugin_class: type[ChannelPlugin]) -> None:
        """The host finds plugins only through ``portevoix.channels``: an entry point named after
        the key must be installed and load this very class."""
        eps = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == plugin_class.key]
        assert eps, (
            f"no {ENTRY_POINT_GROUP!r} entry point named {plugin_class.key!r}: declare it in your "
            "pyproject.toml and reinstall (pip install -e .)"
        )
        loaded = [ep.load() for ep in eps]
        assert plugin_class in loaded, f"entry point {eps[0].value} loads {loaded[0]!r}, not {plugin_class!r}"

    def test_capability_honesty(self, plugin_class: type[ChannelPlugin]) -> None:
        assert_no_problems(
            honesty_problems(plugin_class),
            f"{plugin_class.__qualname__} is not honest about its capabilities",
        )

    def test_format_rules_are_coherent(self, plugin_class: type[ChannelPlugin]) -> None:
        assert_no_problems(format_problems(plugin_class.capabilities), f"{plugin_class.__qualname__} format rules")

    def test_sample_drafts_validate(
        self, plugin_class: type[ChannelPlugin], sample_drafts: Mapping[Format, Draft]
    ) -> None:
        assert_no_problems(sample_problems(plugin_class.capabilities, sample_drafts), "sample drafts")

    # ------------------------------------------------------------------ happy paths
    @pytest.mark.anyio
    async def test_publish_each_format(
        self,
        plugin: ChannelPlugin,
        account: AccountRef,
        fake: FakeNetwork,
        sample_drafts: Mapping[Format, Draft],
    ) -> None:
        _require(plugin, Feature.PUBLISH)
        for rules in plugin.capabilities.formats:
            sent_before = len(fake.received)
            result = await plugin.publish(account, unique(_sample(sample_drafts, rules.format)))
            _check_result(result, f"publish {rules.format.value}")
            assert len(fake.received) > sent_before, (
                f"publish {rules.format.value} sent nothing to the fake (base URL ignored?)"
            )

    @pytest.mark.anyio
    async def test_prepare_publish_is_a_dry_run(
        self,
        plugin: ChannelPlugin,
        account: AccountRef,
        fake: FakeNetwork,
        channel_settings: ChannelSettings,
        sample_drafts: Mapping[Format, Draft],
    ) -> None:
        _require(plugin, Feature.PUBLISH)
        for rules in plugin.capabilities.formats:
            prepared = await plugin.prepare_publish(account, unique(_sample(sample_drafts, rules.format)))
            assert prepared and all(isinstance(r, PreparedRequest) for r in prepared), "no PreparedRequest returned"
            for request in prepared:
                _check_prepared(request, channel_settings, _secrets(account.credentials, channel_settings))
        assert fake.received == [], f"prepare_publish sent {len(fake.received)} request(s) to the network"

    @pytest.mark.anyio
    async def test_repost(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.REPOST)
        original = await self._publish(plugin, account, sample_drafts)
        _check_result(await plugin.repost(account, original.remote_id), "repost")

    @pytest.mark.anyio
    async def test_delete(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.DELETE)
        post = await self._publish(plugin, account, sample_drafts)
        await plugin.delete(account, post.remote_id)  # typed errors are checked below

    @pytest.mark.anyio
    async def test_reply(
        self,
        plugin: ChannelPlugin,
        account: AccountRef,
        fake: FakeNetwork,
        sample_drafts: Mapping[Format, Draft],
    ) -> None:
        _require(plugin, Feature.REPLY)
        post = await self._publish(plugin, account, sample_drafts)
        target = await self.reply_target(plugin, account, fake, post)
        answer = msgspec.structs.replace(unique(_sample(sample_drafts, Format.POST)), reply_to=target.remote_id)
        result = await plugin.reply(account, target, answer)
        _check_result(result, "reply")
        assert result.remote_id != target.remote_id, "reply returned the id of the item answered"

    @pytest.mark.anyio
    async def test_fetch_inbox_pages_through_everything(
        self,
        plugin: ChannelPlugin,
        account: AccountRef,
        fake: FakeNetwork,
        sample_drafts: Mapping[Format, Draft],
    ) -> None:
        _require(plugin, Feature.INBOX)
        post = await self._publish(plugin, account, sample_drafts)
        expected = self.seed_inbox(fake, account, post.remote_id)
        items = await _all_inbox_items(plugin, account)
        ids = [item.remote_id for item in items]
        assert len(ids) == len(set(ids)), f"the cursor served items twice: {ids}"
        missing = set(expected) - set(ids)
        assert not missing, f"inbox items never returned: {sorted(missing)}"

    # ------------------------------------------------------------------ moderation
    @pytest.mark.anyio
    async def test_hide_item_hides_and_shows_again(
        self, plugin: ChannelPlugin, account: AccountRef, fake: FakeNetwork, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.HIDE)
        item = await self.moderation_target(plugin, account, fake, await self._publish(plugin, account, sample_drafts))
        await plugin.hide_item(account, item)
        assert _fake_state(fake, "is_hidden", item.remote_id), f"hide_item returned, {item.remote_id} is not hidden"
        await plugin.hide_item(account, item, hidden=False)
        assert not _fake_state(fake, "is_hidden", item.remote_id), f"hidden=False left {item.remote_id} hidden"

    @pytest.mark.anyio
    async def test_delete_item_deletes_once_and_for_all(
        self, plugin: ChannelPlugin, account: AccountRef, fake: FakeNetwork, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.DELETE_COMMENTS)
        item = await self.moderation_target(plugin, account, fake, await self._publish(plugin, account, sample_drafts))
        await plugin.delete_item(account, item)
        assert _fake_state(fake, "is_deleted", item.remote_id), f"delete_item returned, {item.remote_id} is still there"
        await plugin.delete_item(account, item)  # the host may retry: a comment already gone counts as deleted
        remaining = {i.remote_id for i in await _all_inbox_items(plugin, account)}
        assert item.remote_id not in remaining, "the deleted comment still comes back from fetch_inbox"

    @pytest.mark.anyio
    async def test_ban_author_blocks_them(
        self, plugin: ChannelPlugin, account: AccountRef, fake: FakeNetwork, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.BAN)
        item = await self.moderation_target(plugin, account, fake, await self._publish(plugin, account, sample_drafts))
        await plugin.ban_author(account, item)
        assert _fake_state(fake, "is_blocked", item.author_id), f"ban_author returned, {item.author_id} is not blocked"

    @pytest.mark.anyio
    async def test_search_finds_a_fresh_post(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.SEARCH)
        # a hashtag: every network that searches takes one (Instagram takes nothing else)
        marker = f"cf{uuid.uuid4().hex[:10]}"
        draft = unique(_sample(sample_drafts, Format.POST), marker)
        post = await plugin.publish(account, msgspec.structs.replace(draft, text=f"{draft.text} #{marker}"))
        items = await _all_pages(lambda cursor: plugin.search(account, f"#{marker}", cursor))
        assert post.remote_id in {item.remote_id for item in items}, f"searching #{marker} missed the post"
        assert all(item.kind is InboxKind.MENTION for item in items), "a search hit is of kind MENTION"

    @pytest.mark.anyio
    async def test_metrics(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.METRICS)
        if implements(type(plugin), "fetch_account_metrics"):
            assert isinstance(await plugin.fetch_account_metrics(account), AccountMetrics)
        if implements(type(plugin), "fetch_post_metrics"):
            post = await self._publish(plugin, account, sample_drafts)
            metrics = await plugin.fetch_post_metrics(account, [post.remote_id])
            assert all(isinstance(m, PostMetrics) for m in metrics)
            assert [m.remote_id for m in metrics] == [post.remote_id], "post metrics must name the posts asked for"

    @pytest.mark.anyio
    async def test_oauth_round_trip(self, plugin: ChannelPlugin, oauth_code: str) -> None:
        _require(plugin, Feature.OAUTH)
        request = plugin.authorization_url(state="conformance-state")
        assert isinstance(request, AuthorizationRequest) and request.state == "conformance-state"
        assert request.url.startswith(("https://", "http://")) and "conformance-state" in request.url
        tokens = await plugin.exchange_code(code=oauth_code, code_verifier=request.code_verifier)
        assert isinstance(tokens, TokenSet) and tokens.access_token, "exchange_code gave no access token"
        if implements(type(plugin), "refresh") and tokens.refresh_token:
            refreshed = await plugin.refresh(
                Credentials(access_token=tokens.access_token, refresh_token=tokens.refresh_token)
            )
            assert isinstance(refreshed, TokenSet) and refreshed.access_token, "refresh gave no access token"

    # ------------------------------------------------------------------ reconcile
    @pytest.mark.anyio
    async def test_reconcile_finds_a_published_post_every_time(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.RECONCILE)
        draft, start = unique(_sample(sample_drafts, Format.POST)), datetime.now(UTC)
        published = await plugin.publish(account, draft)
        window = self._window(start)
        first = await plugin.reconcile(account, draft, **window)
        second = await plugin.reconcile(account, draft, **window)
        assert first is not None and second is not None, "reconcile did not find a post just published"
        assert first.remote_id == second.remote_id == published.remote_id

    @pytest.mark.anyio
    async def test_reconcile_returns_none_for_a_draft_never_published(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.RECONCILE)
        await plugin.publish(account, unique(_sample(sample_drafts, Format.POST)))  # something else is there
        never = unique(_sample(sample_drafts, Format.POST))
        await self._assert_absent(plugin, account, never, self._window(datetime.now(UTC)), "a draft never published")

    @pytest.mark.anyio
    async def test_late_answer_is_transient_then_reconciled(
        self,
        make_plugin: PluginFactory,
        account: AccountRef,
        fake: FakeNetwork,
        sample_drafts: Mapping[Format, Draft],
    ) -> None:
        """The dangerous case: the network posted, but the answer never arrived in time."""
        plugin = make_plugin(timeout=self.timeout_s)
        _require(plugin, Feature.RECONCILE)
        await plugin.publish(account, unique(_sample(sample_drafts, Format.POST)))
        # Only the request that creates the post answers late: for a multi-step publish
        # (upload, then create) that is the last one.
        last_path = "^" + re.escape(fake.received[-1].path) + "$"
        draft, start = unique(_sample(sample_drafts, Format.POST)), datetime.now(UTC)
        fake.fail_next("slow", delay=self.timeout_s + 0.5, path=self.late_answer_path(fake) or last_path)
        try:
            await plugin.publish(account, draft)
        except Transient:
            pass
        else:
            pytest.fail("publish succeeded although the answer came late: override late_answer_path()")
        assert await plugin.reconcile(account, draft, **self._window(start)) is not None, "the late post was not found"

    # ------------------------------------------------------------------ reconcile: look-alikes
    # A false "found" records another post's id and the delivery's own post is never sent; a
    # false "not found" sends it twice. Both are public incidents: these drafts look alike.

    @pytest.mark.anyio
    async def test_reconcile_tells_apart_the_same_text_with_another_link(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.RECONCILE)
        base, start = unique(_sample(sample_drafts, Format.POST)), datetime.now(UTC)
        first, second = (_with_link(base, f"https://www.laregion.fr/{path}-{base.client_ref}") for path in "ab")
        posted_first = await plugin.publish(account, first)
        why = "the same text with another link was taken for the published post: that post would be lost"
        await self._assert_absent(plugin, account, second, self._window(start), why)
        posted_second = await plugin.publish(account, second)
        for draft, posted in ((first, posted_first), (second, posted_second)):
            found = await plugin.reconcile(account, draft, **self._window(start))
            assert found is not None and found.remote_id == posted.remote_id, (
                f"reconcile answered {found and found.remote_id} for the post {posted.remote_id}"
            )

    @pytest.mark.anyio
    async def test_reconcile_compares_entities_spaces_emoji_and_newlines_exactly(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        _require(plugin, Feature.RECONCILE)
        base, start = unique(_sample(sample_drafts, Format.POST)), datetime.now(UTC)
        exact = _replace(base, f"{base.text} {EXACT_TAIL}")
        posted = await plugin.publish(account, exact)
        found = await plugin.reconcile(account, exact, **self._window(start))
        assert found is not None and found.remote_id == posted.remote_id, (
            f"a text with entities, double spaces, emoji and newlines was not found: {exact.text!r}"
        )
        for what, old, new in LOOK_ALIKES:
            look_alike = _replace(base, exact.text.replace(old, new))
            why = f"{what}: {look_alike.text!r} was taken for the published {exact.text!r}"
            await self._assert_absent(plugin, account, look_alike, self._window(start), why)

    @pytest.mark.anyio
    async def test_reconcile_refuses_to_guess_between_two_identical_posts(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        """The same text posted twice inside the window: the right post by a reference the network
        keeps, else :class:`Ambiguous` — never the other post, never "not there"."""
        _require(plugin, Feature.RECONCILE)
        first, start = unique(_sample(sample_drafts, Format.POST)), datetime.now(UTC)
        second = _replace(first, first.text)
        posted = [await plugin.publish(account, first)]
        try:
            posted.append(await plugin.publish(account, second))
        except Rejected as refused:
            pytest.skip(f"{plugin.key} refuses the same text twice: {refused.network_message}")
        for draft, post in zip((first, second), posted, strict=True):
            try:
                found = await plugin.reconcile(account, draft, **self._window(start))
            except Ambiguous as ambiguous:
                assert set(ambiguous.candidates) >= {p.remote_id for p in posted}, "Ambiguous must name both posts"
                continue
            assert found is not None and found.remote_id == post.remote_id, (
                f"two identical posts {[p.remote_id for p in posted]}: reconcile chose {found and found.remote_id} "
                f"for {post.remote_id}; raise Ambiguous when nothing tells them apart"
            )

    @pytest.mark.anyio
    async def test_reconcile_ignores_the_same_text_posted_before_the_window(
        self, plugin: ChannelPlugin, account: AccountRef, sample_drafts: Mapping[Format, Draft]
    ) -> None:
        """An identical post older than the attempt is a deliberate earlier one, not the attempt's."""
        _require(plugin, Feature.RECONCILE)
        earlier = unique(_sample(sample_drafts, Format.POST))
        await plugin.publish(account, earlier)
        await asyncio.sleep((self.reconcile_time_precision + timedelta(milliseconds=500)).total_seconds())
        again, start = _replace(earlier, earlier.text), datetime.now(UTC)
        window = {"not_before": start, "not_after": start + self.reconcile_margin}
        why = "a post made before the window was taken for the attempt's: the attempt's post would be lost"
        await self._assert_absent(plugin, account, again, window, why)
        try:
            posted = await plugin.publish(account, again)
        except Rejected:
            return  # the network refuses the same text twice (X): nothing more to look for
        found = await plugin.reconcile(account, again, **window)
        assert found is not None and found.remote_id == posted.remote_id

    @pytest.mark.anyio
    async def test_reconcile_finds_the_attempt_behind_60_newer_posts(
        self,
        plugin: ChannelPlugin,
        account: AccountRef,
        fake: FakeNetwork,
        sample_drafts: Mapping[Format, Draft],
    ) -> None:
        """A backlog after an outage: the walk is bounded by the window, not by a number of posts."""
        _require(plugin, Feature.RECONCILE)
        sample, start = _sample(sample_drafts, Format.POST), datetime.now(UTC)
        attempt = unique(sample)
        posted = await plugin.publish(account, attempt)
        await self.seed_posts(plugin, account, fake, [unique(sample) for _ in range(60)])
        found = await plugin.reconcile(account, attempt, **self._window(start))
        assert found is not None and found.remote_id == posted.remote_id, "60 newer posts hid the attempt's post"

    # ------------------------------------------------------------------ errors
    @pytest.mark.anyio
    @pytest.mark.parametrize("kind", ["rate_limited", "expired", "rejected", "server_error"])
    async def test_errors_are_typed_on_every_operation(
        self,
        kind: str,
        plugin: ChannelPlugin,
        account: AccountRef,
        fake: FakeNetwork,
        sample_drafts: Mapping[Format, Draft],
        oauth_code: str,
    ) -> None:
        operations = await self._operations(plugin, account, sample_drafts, oauth_code, fake)
        for name, operation in operations.items():
            message = f"conformance: refused by the network ({uuid.uuid4().hex[:6]})"
            fake.fail_next(kind, retry_after=7, message=message)  # type: ignore[arg-type]
            try:
                result = await operation(plugin, account)
            except ChannelError as error:
                _check_error(kind, error, message, name)
            else:
                _check_unavailable(kind, result, message, name)

    @pytest.mark.anyio
    @pytest.mark.parametrize("kind", ["timeout", "drop"])
    async def test_transport_failures_are_transient(
        self,
        kind: str,
        make_plugin: PluginFactory,
        account: AccountRef,
        fake: FakeNetwork,
        sample_drafts: Mapping[Format, Draft],
    ) -> None:
        plugin = make_plugin(timeout=self.timeout_s)
        _require(plugin, Feature.PUBLISH)
        fake.fail_next(kind, delay=self.timeout_s + 0.5)  # type: ignore[arg-type]
        with pytest.raises(Transient):
            await plugin.publish(account, unique(_sample(sample_drafts, Format.POST)))

    # ------------------------------------------------------------------ usage
    @pytest.mark.anyio
    async def test_rate_limit_headers_reach_the_usage_recorder(
        self,
        plugin: ChannelPlugin,
        account: AccountRef,
        fake: FakeNetwork,
        sample_drafts: Mapping[Format, Draft],
        oauth_code: str,
        usage: RecordingUsageRecorder,
        response_log: ResponseLog,
    ) -> None:
        for operation in (await self._operations(plugin, account, sample_drafts, oauth_code, fake)).values():
            await operation(plugin, account)
        emitted = response_log.rate_limited_headers()
        assert len(usage.reports) >= len(emitted), (
            f"{len(emitted)} responses carried rate-limit headers, {len(usage.reports)} usage reports recorded"
        )
        # Without rate-limit headers a response still counts as one call (LinkedIn, TikTok).
        answered = len(response_log.responses)
        assert len(usage.reports) >= answered, (
            f"{answered} responses, {len(usage.reports)} usage reports: report every response (PluginHttp does)"
        )
        assert all(report.channel == plugin.key for report in usage.reports), "reports must name the channel key"
        remaining = {report.remaining for report in usage.reports}
        for headers in emitted:
            for name, value in headers.items():
                if name.endswith("remaining") and value.isdigit():
                    assert int(value) in remaining, f"{name}: {value} never reached the usage recorder"

    # ------------------------------------------------------------------ helpers
    async def _publish(
        self, plugin: ChannelPlugin, account: AccountRef, samples: Mapping[Format, Draft]
    ) -> PublishResult:
        return await plugin.publish(
            account,
            unique(samples[Format.POST] if Format.POST in samples else next(iter(samples.values()))),
        )

    async def _assert_absent(
        self, plugin: ChannelPlugin, account: AccountRef, draft: Draft, window: dict[str, datetime], why: str
    ) -> None:
        """Nothing of the network is this draft: ``None``, or — where the network cannot prove a post
        absent — :class:`Ambiguous` naming no candidate. Never a post."""
        try:
            found = await plugin.reconcile(account, draft, **window)
        except Ambiguous as ambiguous:
            assert not self.reconcile_proves_absence, (
                f"{why}: Ambiguous {list(ambiguous.candidates)} (set reconcile_proves_absence = False if the "
                "network cannot prove a post absent)"
            )
            assert not ambiguous.candidates, f"{why}: candidates {list(ambiguous.candidates)}"
            return
        assert found is None, f"{why} (reconcile answered {found.remote_id})"

    def _window(self, start: datetime) -> dict[str, datetime]:
        return {
            "not_before": start - self.reconcile_margin,
            "not_after": datetime.now(UTC) + self.reconcile_margin,
        }

    async def _operations(
        self,
        plugin: ChannelPlugin,
        account: AccountRef,
        samples: Mapping[Format, Draft],
        oauth_code: str,
        fake: FakeNetwork,
    ) -> dict[str, Operation]:
        """Each declared network operation, ready to call; the ones that need a post get a fresh one,
        the moderation ones a comment on it."""
        features = plugin.capabilities.features
        draft = samples.get(Format.POST) or next(iter(samples.values()))
        post = (
            await self._publish(plugin, account, samples)
            if features & {Feature.REPOST, Feature.DELETE, Feature.METRICS}
            else None
        )
        post_id = post.remote_id if post else ""
        operations: dict[str, Operation] = {}
        if Feature.PUBLISH in features:
            operations["publish"] = lambda p, a: p.publish(a, unique(draft))
        if Feature.REPOST in features:
            operations["repost"] = lambda p, a: p.repost(a, post_id)
        if Feature.DELETE in features:
            operations["delete"] = lambda p, a: p.delete(a, post_id)
        if Feature.RECONCILE in features:
            operations["reconcile"] = lambda p, a: self._assert_absent(
                p, a, unique(draft), self._window(datetime.now(UTC)), "a draft never published"
            )
        if features & {Feature.INBOX, Feature.PRIVATE_MESSAGES}:
            operations["fetch_inbox"] = lambda p, a: p.fetch_inbox(a, None)
        if Feature.SEARCH in features:
            operations["search"] = lambda p, a: p.search(a, "Occitanie", None)
        if Feature.METRICS in features and implements(type(plugin), "fetch_post_metrics"):
            operations["fetch_post_metrics"] = lambda p, a: p.fetch_post_metrics(a, [post_id])
        if Feature.METRICS in features and implements(type(plugin), "fetch_account_metrics"):
            operations["fetch_account_metrics"] = lambda p, a: p.fetch_account_metrics(a)
        if Feature.OAUTH in features:
            operations["exchange_code"] = lambda p, a: p.exchange_code(code=oauth_code)
        if features & {Feature.HIDE, Feature.DELETE_COMMENTS, Feature.BAN}:
            # a post of its own: the "delete" operation above deletes the other one first
            commented = await self._publish(plugin, account, samples)
            item = await self.moderation_target(plugin, account, fake, commented)
            if Feature.HIDE in features:
                operations["hide_item"] = lambda p, a: p.hide_item(a, item)
            if Feature.DELETE_COMMENTS in features:
                operations["delete_item"] = lambda p, a: p.delete_item(a, item)
            if Feature.BAN in features:
                operations["ban_author"] = lambda p, a: p.ban_author(a, item)
        return operations


# ---------------------------------------------------------------------- assertions


def _fake_state(fake: FakeNetwork, probe: str, key: str) -> bool:
    """What the fake holds after a moderation operation, through its ``is_hidden`` / ``is_deleted`` /
    ``is_blocked`` (a fake whose network moderates must offer the ones of its features)."""
    read = getattr(fake, probe, None)
    if not callable(read):
        pytest.fail(f"{type(fake).__name__} needs {probe}(id) -> bool: the moderation check reads the fake's state")
    return bool(read(key))


def _sample(samples: Mapping[Format, Draft], fmt: Format) -> Draft:
    """The sample for ``fmt``; for a plain POST, any declared format will do (TikTok has no POST)."""
    if fmt in samples:
        return samples[fmt]
    if fmt == Format.POST and samples:
        return next(iter(samples.values()))
    raise AssertionError(f"no sample draft for format {fmt.value}: override the sample_drafts fixture")


#: one text with what networks rewrite: entities written out, raw &<>, two spaces, emoji, a newline
EXACT_TAIL = "Tom & Jerry, &amp; &lt;3 <b>, deux  espaces, 🎉 fête\nligne 2"
#: each a single change of that text, which must not be taken for it
LOOK_ALIKES = (
    ("an entity unescaped", "&amp;", "&"),
    ("another entity unescaped", "&lt;", "<"),
    ("one space for two", "deux  espaces", "deux espaces"),
    ("another emoji", "🎉", "🎊"),
    ("a space for a newline", "\n", " "),
)


def _replace(draft: Draft, text: str) -> Draft:
    """``draft`` with ``text`` and a fresh client_ref: another delivery, as the host would send it."""
    return msgspec.structs.replace(draft, text=text, client_ref=f"cf-{uuid.uuid4().hex[:10]}")


def _with_link(draft: Draft, link: str) -> Draft:
    """The draft's text with ``link`` at its end (and as its link, when it has one)."""
    return msgspec.structs.replace(_replace(draft, f"{draft.text} {link}"), link=link if draft.link else None)


def _require(plugin: ChannelPlugin, feature: Feature) -> None:
    if not plugin.capabilities.supports(feature):
        pytest.skip(f"{plugin.key} does not declare {feature.value}")


def _check_result(result: object, what: str) -> None:
    assert isinstance(result, PublishResult), f"{what} returned {type(result).__name__}, not PublishResult"
    assert result.remote_id, f"{what} returned an empty remote_id"
    assert not result.requests, f"{what}: a real publish must not carry dry-run requests"


def _secrets(credentials: Credentials, settings: ChannelSettings) -> list[str]:
    candidates = [
        credentials.access_token,
        credentials.refresh_token,
        settings.client_secret,
        settings.webhook_secret,
    ]
    # very short values ("x") would match by accident; real secrets are long
    return [secret for secret in candidates if secret and len(secret) >= 8]


def _check_prepared(request: PreparedRequest, settings: ChannelSettings, secrets: list[str]) -> None:
    bases = [
        settings.base_url.rstrip("/"),
        *(url.rstrip("/") for url in settings.extra.values() if "://" in url),
    ]
    assert request.method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}, f"odd method {request.method!r}"
    assert any(request.url.startswith(base) for base in bases), f"{request.url} ignores the configured base URL"
    encoded = msgspec.json.encode(request).decode()
    leaked = [secret[:4] + "…" for secret in secrets if secret in encoded]
    assert not leaked, f"prepare_publish leaks secrets starting with {leaked}: redact them"


def _check_error(kind: str, error: ChannelError, message: str, operation: str) -> None:
    expected: dict[str, type[ChannelError]] = {
        "rate_limited": RateLimited,
        "expired": CredentialsExpired,
        "rejected": Rejected,
        "server_error": Transient,
    }
    wanted = expected[kind]
    assert isinstance(error, wanted), f"{operation}: {kind} raised {type(error).__name__}, expected {wanted.__name__}"
    if isinstance(error, RateLimited):
        assert error.retry_after > 0, f"{operation}: retry_after must be positive, got {error.retry_after}"
    if isinstance(error, Rejected):
        assert message in error.network_message, (
            f"{operation}: the network's message must reach the author; got {error.network_message!r}"
        )


def _check_unavailable(kind: str, result: object, message: str, operation: str) -> None:
    """An inbox fails source by source: the failure of one may come back in ``unavailable`` with the
    other sources' items instead of an error. Expired credentials concern them all: they raise."""
    words = list(result.unavailable.values()) if isinstance(result, InboxPage) else []
    reported = bool(words) and (kind != "rejected" or any(message in w for w in words))
    assert operation == "fetch_inbox" and kind != "expired" and reported, f"{operation}: {kind} raised nothing" + (
        " (an inbox may name the failed source in InboxPage.unavailable)" if operation == "fetch_inbox" else ""
    )


async def _all_inbox_items(plugin: ChannelPlugin, account: AccountRef) -> list[RemoteItem]:
    return await _all_pages(lambda cursor: plugin.fetch_inbox(account, cursor), "fetch_inbox")


async def _all_pages(
    fetch: Callable[[str | None], Awaitable[InboxPage]], what: str = "search", max_pages: int = 50
) -> list[RemoteItem]:
    """Every item of a paged operation, following its cursor to the end."""
    items: list[RemoteItem] = []
    cursor: str | None = None
    for _ in range(max_pages):
        page = await fetch(cursor)
        assert isinstance(page, InboxPage), f"{what} returned {type(page).__name__}"
        items += page.items
        # None: the sweep is over; the cursor passed in, with nothing: caught up (nothing new since)
        if page.next_cursor is None or (page.next_cursor == cursor and not page.items):
            return items
        assert page.next_cursor != cursor, f"{what} returned items and the same cursor again"
        cursor = page.next_cursor
    raise AssertionError(f"{what} still had a next_cursor after {max_pages} pages")
