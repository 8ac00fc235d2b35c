"""Every admin page on a phone and for assistive technologies, in a real Chromium (issue 12, items 3 and 13).

On the demo as `portevoix run` serves it (simulated networks, so the demo banner is there; the embedded
worker, so the inbox fills): the admin and the Région's community manager each walk the admin by
following its links from /admin. Every page found must be one of PAGES (a new page gets listed, and so
checked), and every page in PAGES must be found. Each is then checked at 390 × 844 (no horizontal scroll:
``scrollWidth <= innerWidth``; the language switch and "log out" on screen) and at 1280 px, with axe-core
(axe-playwright-python's bundled axe.min.js, every impact): zero violations. Plus the skip link, the
composer's tab order and its live check (a short status sentence, not one huge live region).
One browser for the module. Screenshots at 390 px land in tests/.artifacts/mobile-*.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM
from tests.web.test_inbox_browser import Demo, _serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ID = "{id}"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Every page reachable from /admin by its links, by who walks it (the ids as {id}, the query string dropped).
ADMIN_PAGES = [
    "/admin",
    "/admin/compose",
    "/admin/personas",
    "/admin/personas/{id}",
    "/admin/accounts",
    "/admin/staff",
    "/admin/staff/{id}",
    "/admin/me",
    "/admin/notifications",
]
CM_PAGES = [
    "/admin",
    "/admin/compose",
    "/admin/personas",
    "/admin/personas/{id}",
    "/admin/personas/{id}/compose",
    "/admin/personas/{id}/calendar",
    "/admin/personas/{id}/approvals",
    "/admin/personas/{id}/posts/{id}",
    "/admin/personas/{id}/deliveries/{id}",
    "/admin/personas/{id}/inbox",
    "/admin/personas/{id}/inbox/{id}",
    "/admin/personas/{id}/saved-replies",
    "/admin/personas/{id}/usage",
    "/admin/personas/{id}/veille",
    "/admin/personas/{id}/veille/sources",
    "/admin/personas/{id}/veille/crisis",
    "/admin/accounts",
    "/admin/me",
    "/admin/notifications",
]
# Pages no link of the admin leads to, checked all the same.
EXTRA = [("anonymous", "/login"), ("admin", "/admin/me/password"), ("cm.region", "/admin/no-such-page")]

# A page that fails only because of a template not yet fixed: xfail(strict) naming the fix (none today).
KNOWN: dict[tuple[str, str], str] = {}

PAGES = (
    [("admin", p) for p in ADMIN_PAGES] + [("cm.region", p) for p in CM_PAGES] + EXTRA  # the whole list, explicit
)


def pattern(path: str) -> str:
    return _UUID.sub(ID, path.split("?")[0].split("#")[0])


def _params() -> list[Any]:
    return [
        pytest.param(who, path, id=f"{who}:{path}", marks=[pytest.mark.xfail(strict=True, reason=KNOWN[(who, path)])])
        if (who, path) in KNOWN
        else pytest.param(who, path, id=f"{who}:{path}")
        for who, path in PAGES
    ]


# ------------------------------------------------------------------ the demo, one browser, a walk of the admin
class Session:
    """One logged-in browser context, its page, and what the browser complained about."""

    def __init__(self, context: Any, base: str) -> None:
        self.context, self.base = context, base
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from _serve(tmp_path_factory.mktemp("live-mobile-a11y"))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def sessions(demo: Demo, chromium: Any) -> Iterator[dict[str, Session]]:
    out: dict[str, Session] = {}
    for who in ("anonymous", "admin", "cm.region"):
        session = Session(chromium.new_context(viewport=PHONE, locale="fr-FR"), demo.url)
        if who != "anonymous":
            login = demo.logins[who]
            session.goto("/login")
            session.page.fill("input[name=email]", login.email)
            session.page.fill("input[name=password]", login.password)
            session.page.click("form[action='/login'] button[type=submit]")
            session.page.wait_for_load_state()
            assert session.page.url.endswith("/admin"), session.page.url
        out[who] = session
    _a_scheduled_post(out["cm.region"])
    _the_inbox_filled(out["cm.region"])
    yield out
    for session in out.values():
        session.context.close()


def _a_scheduled_post(cm: Session) -> None:
    """The community manager schedules a post, so that the post, delivery and calendar pages have one."""
    cm.goto("/admin/compose")
    cm.page.click("a.choose[data-slug=region-occitanie]")
    cm.page.wait_for_load_state()
    cm.page.check("label[data-channel=facebook] input")
    cm.page.fill("textarea[name=text]", "Les inscriptions aux transports scolaires sont ouvertes jusqu'au 15 janvier.")
    cm.page.check("input[name=when][value=at]")
    cm.page.fill("input[name=local_time]", "2027-02-10T10:00")
    cm.page.click("#composer button[type=submit]")
    cm.page.wait_for_load_state()
    assert cm.page.locator("table a[href*='/deliveries/']").count() >= 1, cm.page.url


def _the_inbox_filled(cm: Session) -> None:
    """The embedded worker's first poll brings the demo's comments in: wait for one in the Région's inbox."""
    cm.goto("/admin/personas")
    cm.page.click("#persona-region-occitanie h2 a")
    cm.page.wait_for_load_state()
    inbox = cm.page.url + "/inbox"
    for _ in range(60):
        cm.page.goto(inbox)
        found = cm.page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
        if any(re.search(r"/inbox/" + _UUID.pattern + "$", href) for href in found):
            return
        cm.page.wait_for_timeout(500)
    raise AssertionError("the demo inbox stayed empty")


@pytest.fixture(scope="module")
def walked(sessions: dict[str, Session]) -> dict[tuple[str, str], str]:
    """Follow the links from /admin (one address per pattern): {(who, pattern): a path}."""
    found: dict[tuple[str, str], str] = {}
    for who in ("admin", "cm.region"):
        session, todo = sessions[who], ["/admin"]
        while todo:
            path = todo.pop(0)
            if (who, pattern(path)) in found:
                continue
            found[(who, pattern(path))] = path
            session.page.goto(session.base + path, wait_until="domcontentloaded")
            hrefs = session.page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
            for href in hrefs:
                href = href.removeprefix(session.base)
                if href.startswith("?"):
                    href = path.split("?")[0] + href
                if href.startswith("/admin") and (who, pattern(href)) not in found:
                    todo.append(href)
    for who, path in EXTRA:
        found[(who, path)] = path
    return found


# ------------------------------------------------------------------ the checks
AXE_SCRIPT: str | None = None


def axe_violations(page: Any) -> list[str]:
    global AXE_SCRIPT
    if AXE_SCRIPT is None:
        from axe_playwright_python.base import AXE_SCRIPT as script

        AXE_SCRIPT = script
    # evaluated through the DevTools protocol: the page's CSP (no inline script) stays as it is
    page.evaluate(AXE_SCRIPT)
    found = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v =>"
        " `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`))"
    )
    return list(found)


def check_phone(session: Session, path: str, shot: str | None = None) -> list[str]:
    page = session.page
    problems: list[str] = []
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(50)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
                 .filter(e => !e.closest('.table-scroll, table')).slice(0, 4)
                 .map(e => e.tagName.toLowerCase() + '.' + e.className + ' '
                           + Math.round(e.getBoundingClientRect().right))"""
        )
        problems.append(f"390 px: {path} is {width[0]} px wide ({wide})")
    for control in ("form[action='/logout'] button", "form.locales button"):
        for box in [page.locator(control).nth(i).bounding_box() for i in range(page.locator(control).count())]:
            if box is None or box["x"] < 0 or box["x"] + box["width"] > PHONE["width"]:
                problems.append(f"390 px: {control} is off screen ({box})")
    problems += [f"390 px axe: {v}" for v in axe_violations(page)]
    if shot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"mobile-{shot}.png"), full_page=True)
    return problems


def check_desktop(session: Session) -> list[str]:
    session.page.set_viewport_size(DESKTOP)
    session.page.wait_for_timeout(50)
    return [f"1280 px axe: {v}" for v in axe_violations(session.page)]


def test_the_walk_finds_exactly_the_listed_pages(walked: dict[tuple[str, str], str]) -> None:
    assert sorted(walked) == sorted(PAGES)


SHOTS = {
    ("cm.region", "/admin"): "dashboard",
    ("cm.region", "/admin/personas/{id}"): "persona",
    ("cm.region", "/admin/personas/{id}/calendar"): "calendar",
    ("admin", "/admin/staff"): "staff",
    ("cm.region", "/admin/personas/{id}/inbox/{id}"): "inbox-item",
    ("cm.region", "/admin/accounts"): "accounts",
}


@pytest.mark.parametrize(("who", "path"), _params())
def test_page_works_on_a_phone_and_has_no_axe_violation(
    who: str, path: str, sessions: dict[str, Session], walked: dict[tuple[str, str], str]
) -> None:
    if (who, path) not in walked:
        pytest.fail(f"{path} was not reached by {who}")
    session = sessions[who]
    session.errors.clear()
    response = session.goto(walked[(who, path)])
    if path == "/admin/no-such-page":
        assert response.status == 404
        session.errors = [e for e in session.errors if "status of 404" not in e]
    else:
        assert response.ok, (path, response.status)
    problems = check_phone(session, path, SHOTS.get((who, path))) + check_desktop(session)
    assert problems == [] and session.errors == [], problems + session.errors


def test_calendar_week_with_a_post_lists_its_days(
    sessions: dict[str, Session], walked: dict[tuple[str, str], str]
) -> None:
    session = sessions["cm.region"]
    session.goto(walked[("cm.region", "/admin/personas/{id}/calendar")].split("?")[0] + "?week=2027-02-10")
    page = session.page
    assert page.locator("ol.calendar > li.day").count() == 7
    assert page.locator("li.day[data-date='2027-02-10'] a.entry[data-state=scheduled]").count() == 1
    assert page.locator("[role=table], [role=rowgroup], [role=row]").count() == 0
    problems = check_phone(session, "calendar week", "calendar-week")
    # on a phone the days are one under the other
    tops = page.locator("ol.calendar > li.day").evaluate_all("days => days.map(d => d.getBoundingClientRect().top)")
    assert tops == sorted(tops) and len(set(tops)) == 7, tops
    problems += check_desktop(session)
    tops = page.locator("ol.calendar > li.day").evaluate_all("days => days.map(d => d.getBoundingClientRect().top)")
    assert len(set(tops)) == 1, f"seven columns at 1280 px: {tops}"
    assert problems == [] and session.errors == [], problems + session.errors


def test_skip_link_is_the_first_stop_and_leads_to_the_content(sessions: dict[str, Session]) -> None:
    session = sessions["cm.region"]
    session.goto("/admin")
    page = session.page
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.className, document.activeElement.textContent.trim()]")
    assert focused == ["skip-link", "Aller au contenu"]
    assert page.locator("a.skip-link").bounding_box()["y"] >= 0  # shown once focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.tagName + '#' + document.activeElement.id") == "MAIN#content"
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('main')")
    assert page.locator("main").count() == 1
    # every piece of content in a landmark: the demo banner included
    assert page.locator("header .simulated-banner").count() == 1


def _composer(sessions: dict[str, Session], walked: dict[tuple[str, str], str]) -> Any:
    session = sessions["cm.region"]
    session.errors.clear()
    session.goto(walked[("cm.region", "/admin/personas/{id}/compose")])
    return session


def test_composer_tab_order_follows_the_page(sessions: dict[str, Session], walked: dict[tuple[str, str], str]) -> None:
    page = _composer(sessions, walked).page
    assert page.locator("[tabindex]:not([tabindex='0']):not([tabindex='-1'])").count() == 0
    page.locator("#composer input[name=account_id]:not([disabled])").first.focus()
    order = []
    for _ in range(40):
        order.append(page.evaluate("(e => e.name || e.id || e.tagName)(document.activeElement)"))
        in_dom_order = page.evaluate(
            "(a => !a || a === document.activeElement || (a.compareDocumentPosition(document.activeElement) & 4) !== 0)"
            "(window.__last)"
        )
        assert in_dom_order, f"the tab order goes back up the page at {order}"
        page.evaluate("window.__last = document.activeElement")
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#composer') === null"):
            break
    # the text, then when, then Save: all within the form, before the upload form and the live check
    assert "text" in order and "local_time" in order, order
    assert order.index("text") < order.index("local_time")


def test_composer_live_check_says_one_short_sentence(
    sessions: dict[str, Session], walked: dict[tuple[str, str], str]
) -> None:
    session = _composer(sessions, walked)
    page = session.page
    page.set_viewport_size(PHONE)
    page.check("label[data-channel=facebook] input")
    page.locator("textarea[name=text]").press_sequentially("Je suis fière", delay=20)
    page.locator("#live-check .finding").first.wait_for(timeout=5000)
    page.wait_for_function("document.querySelector('#live-check-summary[role=status]').textContent.length > 0")
    said = page.locator("#live-check-summary").text_content()
    assert 0 < len(said) < 200 and "prénom" not in said, said
    problems = check_phone(session, "composer with its findings", "composer-findings")
    # the findings are on the page on a phone: below the form, not beside it off screen
    box = page.locator("#live-check").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert box["y"] < page.locator("#media-upload").bounding_box()["y"], "the findings come after the upload form"
    problems += check_desktop(session)
    assert problems == [] and session.errors == [], problems + session.errors


def test_composer_findings_are_not_one_huge_live_region(
    sessions: dict[str, Session], walked: dict[tuple[str, str], str]
) -> None:
    page = _composer(sessions, walked).page
    assert page.locator("#live-check").count() == 1
    assert page.locator("[aria-live]:has(#live-check-body), [role=status]:has(#live-check-body)").count() == 0
