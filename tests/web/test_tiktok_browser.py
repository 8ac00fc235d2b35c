"""The president's community manager publishes a TikTok video with a privacy level that
creator_info offers her account: the fake TikTok receives it with that level."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.media.helpers import mp4
from tests.web.live import LiveApp, serve
from tests.web.test_browser import CHROMIUM, Browser, browser  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    # the demo as `portevoix run` serves it: the simulated networks, the embedded Redis and worker
    env = {"PORTEVOIX_SIMULATED_NETWORKS": "true"}
    with serve(tmp_path_factory.mktemp("live-tiktok"), None, extra_env=env) as app:
        yield app


MP4 = mp4()  # a real one: uploads are probed (PyAV)


async def test_a_tiktok_video_goes_out_with_the_privacy_level_chosen_from_creator_info(
    browser: Browser,  # noqa: F811
    live: LiveApp,
) -> None:
    cm = live.logins["cm.presidente"]
    await browser.login(cm.email, cm.password)
    page = browser.page
    await page.click("nav.mainnav >> text=Rédiger")
    if await page.locator("a.choose").count():
        await page.click("a.choose[data-slug=presidente-region]")
    await page.wait_for_load_state()
    await page.check("label[data-channel=tiktok] input")
    options = page.locator("fieldset.publish-options[data-channel=tiktok]")
    assert "Qui peut voir cette publication" in await options.inner_text()
    offered = await options.locator("select[name=option__tiktok__privacy_level] option").evaluate_all(
        "options => options.map(o => o.value).filter(Boolean)"
    )
    assert "SELF_ONLY" in offered  # read from the account's creator_info
    await page.set_input_files(
        "#media-upload input[name=file]", files=[{"name": "feria.mp4", "mimeType": "video/mp4", "buffer": MP4}]
    )
    await page.fill("#media-upload textarea[name=alt_text]", "Bandas et foule dans les rues de Nîmes pendant la feria")
    await page.check("#media-upload input[name=has_captions]")
    await page.click("#media-upload button[type=submit]")
    await page.locator("#media-list li").first.wait_for(timeout=5000)
    await page.select_option("select[name=format]", "video")
    await page.fill("textarea[name=text]", "Je vous emmène à la feria de Nîmes, au plus près des bandas !")
    await page.select_option("select[name=option__tiktok__privacy_level]", "SELF_ONLY")
    await page.check("fieldset.publish-options[data-channel=tiktok] input[name=option__tiktok__disable_duet]")
    await page.check("input[name=when][value=now]")
    await page.click("#composer button[type=submit]")
    await page.wait_for_load_state()
    await browser.shot("cm-tiktok-published-fr")
    row = page.locator("tr[data-delivery]").filter(has_text="tiktok")
    assert await row.count() == 1
    state = await row.get_attribute("data-state")
    assert state in ("scheduled", "queued", "publishing", "published"), state
    # the post keeps the choice: its delivery goes out with it (the worker reads Post.publish_options)
    for _ in range(40):
        await page.reload()
        state = await page.locator("tr[data-delivery]").filter(has_text="tiktok").get_attribute("data-state")
        if state == "published":
            break
        await page.wait_for_timeout(500)
    assert state == "published"
