"""The conformance suite: passes on the example plugin, and fails on plugins that break the contract.

The failing runs happen inside ``pytester`` (a nested pytest session), so they prove the
suite goes red without turning this suite red.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from core.channels import (
    Capabilities,
    ChannelPlugin,
    Draft,
    Feature,
    Format,
    FormatRules,
    MediaItem,
    MediaKind,
    MediaRules,
    TextRules,
)
from plugins.testing.conformance import (
    ChannelConformance,
    format_problems,
    honesty_problems,
    plugin_class_problems,
    sample_problems,
)

try:
    from portevoix_webhook_channel import WebhookChannel
    from portevoix_webhook_channel.fake import WebhookFake
except ImportError as exc:  # a clear message beats a bare collection error
    raise ImportError("install the example plugin: pip install -e examples/portevoix-webhook-channel") from exc

pytest_plugins = ["pytester"]

PHOTO = MediaItem(
    kind=MediaKind.IMAGE, content_type="image/png", url="https://cdn.example.org/a.png", alt_text="Affiche"
)
SAMPLES: dict[Format, Draft] = {
    Format.POST: Draft(text="Réunion publique mardi à 19 h"),
    Format.PHOTO: Draft(text="L'affiche", format=Format.PHOTO, media=(PHOTO,)),
}


class TestWebhookChannelConformance(ChannelConformance):
    """The example third-party plugin, exactly as its author runs it."""

    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls) -> type[ChannelPlugin]:
        return WebhookChannel

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls) -> WebhookFake:
        return WebhookFake()

    @pytest.fixture
    def sample_drafts(self) -> Mapping[Format, Draft]:
        return SAMPLES

    def seed_inbox(self, fake: object, account: object, remote_id: str) -> list[str]:
        assert isinstance(fake, WebhookFake)
        return [fake.add_reply(account, remote_id, f"Merci ! ({n})") for n in range(60)]  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the static checks, as functions


class DeclaresDeleteOnly(WebhookChannel):
    """Says it deletes, but its delete is the base one that raises NotSupported."""

    key = "liar"
    capabilities = Capabilities(
        text=WebhookChannel.capabilities.text,
        formats=WebhookChannel.capabilities.formats,
        features=WebhookChannel.capabilities.features,
    )
    delete = ChannelPlugin.delete  # type: ignore[assignment]


class RepostsInSecret(WebhookChannel):
    """Implements repost without declaring it: the composer would never offer it."""

    async def repost(self, account, remote_id):  # type: ignore[no-untyped-def]
        raise AssertionError("never called")


def test_declaring_delete_without_implementing_it_is_caught() -> None:
    assert honesty_problems(DeclaresDeleteOnly) == ["declares delete but does not implement delete()"]


def test_implementing_an_undeclared_operation_is_caught() -> None:
    assert honesty_problems(RepostsInSecret) == ["implements repost() but declares none of repost"]


def test_the_example_plugin_has_no_static_problem() -> None:
    assert plugin_class_problems(WebhookChannel, SAMPLES) == []


def test_incoherent_format_rules_are_caught() -> None:
    images = MediaRules(kind=MediaKind.IMAGE, max_count=10, min_aspect_ratio=2.0, max_aspect_ratio=0.5)
    capabilities = Capabilities(
        text=TextRules(limit=0),
        formats=(
            FormatRules(format=Format.PHOTO, media=(images,), min_media=3, max_media=2),
            FormatRules(format=Format.VIDEO, media=(images,), max_media=1),
            FormatRules(format=Format.POST, max_media=4),
        ),
        features=frozenset({Feature.PUBLISH}),
    )
    assert format_problems(capabilities) == [
        "text limit 0 must be positive",
        "photo: needs 0 <= min_media (3) <= max_media (2)",
        "photo: image: max_count 10 must be between 1 and the format's max_media 2",
        "photo: image: aspect ratio minimum 2.0 is above its maximum 0.5",
        "video: accepts no video",
        "video: image: max_count 10 must be between 1 and the format's max_media 1",
        "video: image: aspect ratio minimum 2.0 is above its maximum 0.5",
        "post: accepts 4 media but declares no media rules",
    ]


def test_missing_or_invalid_sample_drafts_are_caught() -> None:
    problems = sample_problems(WebhookChannel.capabilities, {Format.POST: Draft(text="x" * 5001)})
    assert problems == [
        "post sample: text_too_long: the text is 5001 characters long as the network counts them; limit 5000",
        "no sample draft for declared format photo (override sample_drafts)",
    ]


# ---------------------------------------------------------------------- the suite going red

LIARS = """
import pytest
from core.channels import ChannelPlugin, Draft, Format, MediaItem, MediaKind, PreparedRequest, Transient
from plugins.testing.conformance import ChannelConformance
from portevoix_webhook_channel import WebhookChannel
from portevoix_webhook_channel.fake import WebhookFake


class Base(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls):
        return WebhookFake()

    @pytest.fixture
    def sample_drafts(self):
        photo = MediaItem(kind=MediaKind.IMAGE, content_type="image/png", url="https://cdn.example.org/a.png")
        return {Format.POST: Draft(text="Bonjour"), Format.PHOTO: Draft(text="", format=Format.PHOTO, media=(photo,))}


class Dishonest(WebhookChannel):
    delete = ChannelPlugin.delete          # declares DELETE, implements nothing


class RateLimitAsTransient(WebhookChannel):
    async def publish(self, account, draft):
        try:
            return await super().publish(account, draft)
        except Exception as exc:           # flattens every error: the host would hammer on 429
            raise Transient(str(exc)) from exc


class LeaksTheSecret(WebhookChannel):
    async def prepare_publish(self, account, draft):
        (request,) = await super().prepare_publish(account, draft)
        headers = request.headers | {"x-portevoix-secret": account.credentials.access_token}
        return (PreparedRequest(method=request.method, url=request.url, headers=headers, json=request.json),)


class Forgetful(WebhookChannel):
    async def reconcile(self, account, draft, *, not_before, not_after):
        return None                        # "certainly not there": a double post waiting to happen


class Squashing(WebhookChannel):
    sent = []                              # finds posts by squashed text, first match wins (issue 10)

    async def publish(self, account, draft):
        result = await super().publish(account, draft)
        Squashing.sent.append((" ".join(draft.text.split()), result))
        return result

    async def reconcile(self, account, draft, *, not_before, not_after):
        wanted = " ".join(draft.text.split())
        return next((result for text, result in Squashing.sent if text == wanted), None)


class Silent(WebhookChannel):
    def __init__(self, settings, *, http=None, usage=None):
        super().__init__(settings, http=http)  # drops the recorder: the host never sees the quota run out


class TestDishonest(Base):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls):
        return Dishonest


class TestRateLimitAsTransient(Base):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls):
        return RateLimitAsTransient


class TestLeaksTheSecret(Base):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls):
        return LeaksTheSecret


class TestSilent(Base):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls):
        return Silent


class TestForgetful(Base):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls):
        return Forgetful


class TestSquashing(Base):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls):
        return Squashing
"""

SELECTED = (
    "(TestDishonest and capability_honesty)"
    " or (TestRateLimitAsTransient and errors_are_typed and rate_limited)"
    " or (TestLeaksTheSecret and dry_run)"
    " or (TestForgetful and reconcile_finds_a_published)"
    " or (TestSquashing and (entities_spaces or identical_posts))"
    " or (TestSilent and usage_recorder)"
)


# the nested session re-marks Porte-voix's already imported packages for assert rewriting: harmless
INNER_ARGS = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning", "-k", SELECTED)


def test_the_suite_fails_plugins_that_break_the_contract(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_liars=LIARS)
    result = pytester.runpytest_inprocess(*INNER_ARGS)
    result.assert_outcomes(failed=7)
    result.stdout.fnmatch_lines_random(
        [
            "*one space for two*was taken for the published*",
            "*two identical posts*reconcile chose*raise Ambiguous when nothing tells them apart*",
            "*Dishonest is not honest about its capabilities*",
            "*declares delete but does not implement delete()*",
            "*publish: rate_limited raised Transient, expected RateLimited*",
            "*prepare_publish leaks secrets starting with*",
            "*reconcile did not find a post just published*",
            "*responses carried rate-limit headers, 0 usage reports recorded*",
        ]
    )


def test_the_same_selection_passes_on_the_honest_plugin(pytester: pytest.Pytester) -> None:
    # The control: the selection above fails because of the liars, not because of the suite.
    honest = LIARS
    for liar in ("Dishonest", "RateLimitAsTransient", "LeaksTheSecret", "Forgetful", "Silent", "Squashing"):
        honest = honest.replace(f"return {liar}", "return WebhookChannel")
    pytester.makepyfile(test_liars=honest)
    result = pytester.runpytest_inprocess(*INNER_ARGS)
    result.assert_outcomes(passed=7)


# ---------------------------------------------------------------------- leaving a check out

SKIPPING = """
import pytest
from core.channels import Draft, Format, MediaItem, MediaKind
from plugins.testing.conformance import ChannelConformance
from portevoix_webhook_channel import WebhookChannel
from portevoix_webhook_channel.fake import WebhookFake


class Base(ChannelConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls):
        return WebhookChannel

    @pytest.fixture(scope="class")
    @classmethod
    def fake(cls):
        return WebhookFake()

    @pytest.fixture
    def sample_drafts(self):
        photo = MediaItem(kind=MediaKind.IMAGE, content_type="image/png", url="https://cdn.example.org/a.png")
        return {Format.POST: Draft(text="Bonjour"), Format.PHOTO: Draft(text="", format=Format.PHOTO, media=(photo,))}


class TestSkips(Base):
    skip_checks = {"test_errors_are_typed_on_every_operation": "our endpoint only ever answers 200"}


class TestSkipsAMisspelledCheck(Base):
    skip_checks = {"test_errors_are_typed_everywhere": "a check that does not exist"}


class TestSkipsWithoutAReason(Base):
    skip_checks = {"test_capability_honesty": "  "}
"""


def test_skip_checks_is_the_one_way_to_leave_a_check_out(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_skipping=SKIPPING)
    selection = "errors_are_typed or capability_honesty"
    result = pytester.runpytest_inprocess(*INNER_ARGS[:-2], "-k", selection, "-rs")
    # TestSkips: the 4 error kinds skipped with the reason, honesty passes. A misspelled name
    # fails all 5 checks of its class; a blank reason fails the check it names.
    result.assert_outcomes(passed=5, skipped=4, errors=6)
    result.stdout.fnmatch_lines_random(
        [
            "*skipped by TestSkips.skip_checks: our endpoint only ever answers 200*",
            "*skip_checks names no check of the conformance suite: ?'test_errors_are_typed_everywhere'?*",
            "*skip_checks?'test_capability_honesty'? needs a reason*",
        ]
    )


def test_the_suite_checks_the_plugin_is_discoverable(pytester: pytest.Pytester) -> None:
    # A class the host cannot find: same key as the example plugin, not what its entry point loads.
    unlisted = (
        SKIPPING
        + """

class Unlisted(WebhookChannel):
    pass


class TestUnlisted(Base):
    @pytest.fixture(scope="class")
    @classmethod
    def plugin_class(cls):
        return Unlisted
"""
    )
    pytester.makepyfile(test_unlisted=unlisted)
    result = pytester.runpytest_inprocess(*INNER_ARGS[:-2], "-k", "TestUnlisted and discoverable")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*entry point portevoix_webhook_channel:WebhookChannel loads*not*Unlisted*"])
