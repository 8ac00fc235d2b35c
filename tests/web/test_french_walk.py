"""The admin and the API in French: every refusal we can provoke, every page we can reach.

1. The catalogue: every msgid has a French msgstr, none fuzzy.
2. Refusals: each case of :data:`REFUSALS` is provoked with bad input (API and admin), and the
   text shown is the French of the refusal's msgid (and the JSON carries its code).
3. The walk: the admin's pages, followed link by link from /admin as the site admin and as a
   community manager, in French; no English msgid of the catalogue appears in their visible text.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec
import pytest
from babel.messages.pofile import read_po

from core.channels import (
    Capabilities,
    Draft,
    Format,
    FormatRules,
    MediaItem,
    MediaKind,
    MediaRules,
    OptionKind,
    PublishOption,
    PublishOptions,
    TextRules,
    Violation,
    validate_draft,
    validate_options,
)
from core.channels.validation import VIOLATIONS
from tests.web.live import LiveApp, serve
from web import i18n
from web.labels import option_label
from web.messages import notice_text, render, violation_text

PO = Path(i18n.TRANSLATIONS_DIR) / "fr" / "LC_MESSAGES" / "messages.po"
#: msgids that are the same in both languages on purpose (names, formats, symbols)
SAME_ON_PURPOSE = {"Porte-voix", "Instagram", "Facebook", "LinkedIn", "TikTok", "Bluesky", "Mastodon", "X", "Email"}
MAX_PAGES = 80


def _catalogue() -> Any:
    with PO.open("rb") as f:
        return read_po(f)


def test_every_msgid_has_a_french_msgstr() -> None:
    missing = [
        m.id
        for m in _catalogue()
        if m.id and (m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string)))
    ]
    assert not missing, f"{len(missing)} msgids without a French msgstr (or fuzzy): {missing[:20]}"


def french(template: str, params: dict[str, Any] | None = None) -> str:
    with i18n.using("fr"):
        text = render(template, params)
    assert text != template or template in SAME_ON_PURPOSE, f"not translated: {template!r}"
    return text


# ------------------------------------------------------------------ a live app, logged in, in French
@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with serve(tmp_path_factory.mktemp("french-walk")) as app:
        yield app


def _client(live: LiveApp, who: str, locale: str = "fr") -> httpx.Client:
    client = httpx.Client(base_url=live.url, cookies={i18n.LOCALE_COOKIE: locale}, timeout=20)
    client.get("/login")
    login = live.logins[who]
    answer = client.post(
        "/login",
        data={"email": login.email, "password": login.password, "_csrf_token": client.cookies.get("pv_csrf") or ""},
    )
    assert answer.status_code in (200, 303), answer.text
    # the cookie follows the staff member's saved choice at login: switch for this session only
    csrf = client.cookies.get("pv_csrf") or ""
    client.post("/locale", data={"locale": locale, "next": "/admin", "_csrf_token": csrf})
    page = client.get("/admin")
    assert page.status_code == 200
    assert f'<html lang="{locale}">' in page.text
    return client


@pytest.fixture(scope="module")
def admin(live: LiveApp) -> Iterator[httpx.Client]:
    client = _client(live, "admin")
    yield client
    client.close()


@pytest.fixture(scope="module")
def cm(live: LiveApp) -> Iterator[httpx.Client]:
    client = _client(live, "cm.region")
    yield client
    client.close()


def _region_id(client: httpx.Client) -> str:
    personas = client.get("/api/v1/personas").json()
    items = personas["items"] if isinstance(personas, dict) else personas
    return str(next(p["id"] for p in items if p["slug"] == "region-occitanie"))


def _send(client: httpx.Client, method: str, path: str, body: Any = None) -> httpx.Response:
    headers = {"x-csrftoken": client.cookies.get("pv_csrf") or ""}
    return client.request(method, path, json=body, headers=headers)


# ------------------------------------------------------------------ refusals
NOWHERE = str(uuid.uuid4())
#: (method, path — {region}: the Région's id, body, status, code or None, msgid, params)
REFUSALS: list[tuple[str, str, Any, int, str | None, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/me/tokens?cursor=zzz", None, 400, "bad_cursor", "not a cursor this API gave", None),
    ("DELETE", f"/api/v1/me/tokens/{NOWHERE}", None, 404, "token_not_found", "no such token", None),
    (
        "POST",
        "/api/v1/me/password",
        {"currentPassword": "not-my-password", "newPassword": "a-new-long-password"},
        400,
        "password_wrong",
        "the current password is wrong",
        None,
    ),
    (
        "POST",
        "/api/v1/personas/{region}/saved-replies",
        {"shortCode": "a b", "title": "Agenda", "text": "Bonjour"},
        400,
        "short_code_invalid",
        "a short code is 1 to 32 letters, digits, - or _",
        None,
    ),
    (
        "POST",
        "/api/v1/personas/{region}/saved-replies",
        {"shortCode": "agenda", "title": "Agenda", "text": "   "},
        400,
        "text_empty",
        "a saved reply cannot be empty",
        None,
    ),
    ("GET", f"/api/v1/personas/{NOWHERE}/saved-replies", None, 404, None, "no such persona", None),
    (
        "POST",
        "/api/v1/personas/{region}/posts",
        {"accountIds": [], "text": "Bonjour", "scheduledAt": "2030-01-07T10:00:00"},
        400,
        None,
        "scheduledAt must carry its offset (…+01:00 or …Z); use localTime for a time in the persona's time zone",
        None,
    ),
    # a guard's refusal (before the request's language is chosen): an editor may not pause the persona
    (
        "POST",
        "/api/v1/personas/{region}/pause",
        {},
        403,
        None,
        "this needs the “%(role)s” role on this persona",
        {"role": "manager"},
    ),  # fmt: skip
]


def test_a_guards_refusal_follows_the_readers_language(live: LiveApp) -> None:
    """The same 403 in English for a reader who chose English (the guard runs before the locale is set)."""
    client = _client(live, "cm.region", locale="en")
    try:
        answer = _send(client, "POST", f"/api/v1/personas/{_region_id(client)}/pause", {})
    finally:
        client.close()
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"] == "this needs the “Manager” role on this persona"


@pytest.mark.parametrize("case", REFUSALS, ids=[f"{c[0]} {c[1]} {c[4]}" for c in REFUSALS])
def test_api_refusals_speak_french(cm: httpx.Client, case: tuple[Any, ...]) -> None:
    method, path, body, status, code, msgid, params = case
    answer = _send(cm, method, path.format(region=_region_id(cm)), body)
    assert answer.status_code == status, answer.text
    payload = answer.json()
    assert payload["detail"] == french(msgid, params), payload
    if code is not None:
        assert payload["code"] == code


def test_admin_refusals_speak_french(cm: httpx.Client) -> None:
    # a persona that does not exist: the error page
    page = cm.get(f"/admin/personas/{NOWHERE}")
    assert page.status_code == 404
    assert french("no such persona") in html.unescape(page.text)
    # a saved reply without a text: flashed on the saved replies' page
    region = _region_id(cm)
    cm.get(f"/admin/personas/{region}/saved-replies")
    answer = cm.post(
        f"/admin/personas/{region}/saved-replies",
        data={"short_code": "vide", "title": "Vide", "text": " ", "_csrf_token": cm.cookies.get("pv_csrf") or ""},
        follow_redirects=True,
    )
    assert french("a saved reply cannot be empty") in html.unescape(answer.text), answer.text[:2000]


# ------------------------------------------------------------------ the walk
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]")
_LINK = re.compile(r'href="([^"#]+)"')


def _visible(page: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", page)).split())


def _english_phrases() -> dict[str, str]:
    """The catalogue's English phrases (the longest literal part of each msgid of three words or more)
    whose French differs: any of these on a French page is an untranslated string."""
    phrases: dict[str, str] = {}
    for message in _catalogue():
        if not message.id or not isinstance(message.id, str) or message.string == message.id:
            continue
        part = max(_PLACEHOLDER.split(message.id), key=len).strip(" .:;,()“”")
        if len(part.split()) >= 3:
            phrases[" ".join(part.split())] = message.id
    return phrases


def _walk(client: httpx.Client) -> dict[str, str]:
    seen: set[str] = set()
    pages: dict[str, str] = {}
    todo = ["/admin"]
    while todo and len(pages) < MAX_PAGES:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        answer = client.get(path)
        if answer.status_code != 200 or "text/html" not in answer.headers.get("content-type", ""):
            continue
        pages[path] = _visible(answer.text)
        for href in _LINK.findall(answer.text):
            target = urlsplit(urljoin(str(answer.url), html.unescape(href)))
            if target.netloc and target.netloc != urlsplit(str(client.base_url)).netloc:
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if target.path.startswith("/admin") and "/logout" not in target.path and link not in seen:
                todo.append(link)
    return pages


@pytest.mark.parametrize("who", ["admin", "cm"])
def test_the_admin_speaks_french(request: pytest.FixtureRequest, who: str) -> None:
    client: httpx.Client = request.getfixturevalue(who)
    pages = _walk(client)
    assert len(pages) > 5, sorted(pages)
    phrases = _english_phrases()
    english = {
        path: sorted({msgid for phrase, msgid in phrases.items() if phrase in text}) for path, text in pages.items()
    }
    english = {path: found for path, found in english.items() if found}
    print(f"{len(pages)} pages walked as {who}")
    assert not english, f"English on French pages: {english}"


def test_network_notices_are_translated() -> None:
    """What each network says of itself in the composer (``Capabilities.notices``) and the labels of
    its publish options are shown in French, for every plugin discovered."""
    from core.channels.registry import discover

    registry = discover()
    assert len(registry.keys()) >= 7  # the built-in plugins at least: the loop below cannot pass empty
    untranslated = []
    with i18n.using("fr"):
        for key in registry.keys():
            capabilities = registry.get(key).capabilities
            for notice in capabilities.notices:
                if notice_text(notice) == notice:
                    untranslated.append(f"{key}: {notice}")
            for option in capabilities.options:
                if option.label and option_label(option.name, option.label) == option.label:
                    untranslated.append(f"{key}: option {option.name}: {option.label}")
    assert not untranslated, untranslated


def test_a_notice_outside_the_catalogue_is_shown_as_written() -> None:
    """A third-party plugin's sentence the catalogue does not know stays English, as written."""
    with i18n.using("fr"):
        assert notice_text("Our own network posts on Tuesdays only.") == "Our own network posts on Tuesdays only."
        assert option_label("our_option", "Our own option") == "Our own option"
        assert option_label("our_option") == "our_option"


def _every_violation() -> list[Violation]:
    """At least one violation of each code ``validate_draft`` and ``validate_options`` produce."""
    image = MediaRules(
        kind=MediaKind.IMAGE,
        max_count=4,
        content_types=frozenset({"image/jpeg"}),
        max_bytes=1000,
        min_aspect_ratio=0.8,
        max_aspect_ratio=1.25,
    )
    video = MediaRules(kind=MediaKind.VIDEO, max_count=4, min_duration_s=3, max_duration_s=60)
    required = PublishOption(name="privacy_level", label="Who can see this post", choices=("SELF_ONLY",), required=True)
    flag = PublishOption(name="disable_duet", kind=OptionKind.BOOL, label="Turn off Duet")
    capabilities = Capabilities(
        text=TextRules(limit=10, max_hashtags=1, title_limit=5),
        formats=(
            FormatRules(format=Format.POST, media=(image,), max_media=1, text_allowed=True),
            FormatRules(format=Format.PHOTO, media=(image, video), min_media=2, max_media=2, text_allowed=False),
        ),
        features=frozenset(),
        options=(required, flag),
    )
    big_png = MediaItem(kind=MediaKind.IMAGE, content_type="image/png", size_bytes=5000, width=300, height=100)
    gif = MediaItem(kind=MediaKind.GIF, content_type="image/gif")
    long_video = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", duration_s=90.5)
    short_video = MediaItem(kind=MediaKind.VIDEO, content_type="video/mp4", duration_s=1.25)
    too_much = Draft(
        text="far too long a text #a #b", title="a long title", media=(big_png, gif), options={"disable_duet": "maybe"}
    )
    drafts = [
        Draft(text="hi", format=Format.VIDEO),  # format_unsupported
        too_much,  # text, hashtags, title, media count, type, size, ratio, kind, options
        Draft(text="words", format=Format.PHOTO, media=(long_video,)),  # text_not_allowed, media_missing, too long
        Draft(text="", format=Format.PHOTO, media=(short_video,) * 3, options={"privacy_level": "X"}),
    ]
    found = [v for draft in drafts for v in validate_draft(capabilities, draft)]
    offered = PublishOptions(options=(msgspec.structs.replace(required, choices=("PUBLIC_TO_EVERYONE",)),))
    found += validate_options(offered, Draft(text="hi", options={"privacy_level": "SELF_ONLY"}))
    return found


def test_every_violation_code_reads_in_french() -> None:
    """Each hard limit ``core.channels.validation`` can find has an N_ template, and the composer shows
    it in French with its numbers (never the English template, never a bare code)."""
    found = _every_violation()
    assert {v.code for v in found} == set(VIOLATIONS), "a code is never produced, or produced without a template"
    with i18n.using("fr"):
        for violation in found:
            assert violation.template == VIOLATIONS[violation.code]
            assert violation.message and "%(" not in violation.message, violation  # the English, filled
            text = violation_text(violation.code, violation.params, violation.message)
            assert text not in (violation.message, violation.template, violation.code), violation.code
            assert "%(" not in text, text
    by_code = {v.code: v for v in found}
    with i18n.using("fr"):
        assert violation_text("media_kind_unsupported", by_code["media_kind_unsupported"].params) == (
            "média 2 : ce type de média (GIF) n'est pas accepté ici"
        )
        assert "« Vidéo »" in violation_text("format_unsupported", by_code["format_unsupported"].params)
        assert "Qui peut voir cette publication" in violation_text("option_required", by_code["option_required"].params)
        assert "90,5 s" in violation_text("media_too_long", by_code["media_too_long"].params)


def test_the_walk_sees_english(live: LiveApp) -> None:
    """The check can fail: the same pages in English are full of the catalogue's English phrases."""
    client = _client(live, "cm.region", locale="en")
    try:
        text = _visible(client.get("/admin").text)
    finally:
        client.close()
    assert [phrase for phrase in _english_phrases() if phrase in text]
