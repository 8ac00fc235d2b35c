"""Approvers see what goes out: the media with its alt text, and the post as each network shows it."""

from __future__ import annotations

import io
import re

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import select

from core.channels.contract import TextCounting
from core.channels.text import count_text
from core.db.enums import Role
from core.db.models import Account
from core.demo import DemoLogin
from core.publishing.preview import _fitting
from core.runtime import Runtime
from tests.web.conftest import bearer, login, persona_ids, staff_with_token

pytestmark = pytest.mark.anyio
REGION = "region-occitanie"
ALT = "La place du Capitole au coucher du soleil, vue depuis le Donjon"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def test_the_approvals_post_and_delivery_pages_show_the_media_and_a_preview_per_network(
    client: AsyncTestClient, runtime: Runtime, demo: dict[str, DemoLogin]
) -> None:
    ids = await persona_ids(runtime)
    _, token = await staff_with_token(runtime, "apprentie2", roles={REGION: Role.CONTRIBUTOR})
    async with runtime.session() as session:
        accounts = dict(
            (await session.execute(select(Account.channel, Account.id).where(Account.persona_id == ids[REGION]))).all()
        )
    uploaded = await client.post(
        f"/api/v1/personas/{ids[REGION]}/media",
        headers=bearer(token),
        files={"file": ("capitole.png", png(), "image/png")},
        data={"alt_text": ALT},
    )
    assert uploaded.status_code == 201, uploaded.text
    words = "Les marchés de producteurs reviennent ce week-end dans toute la région. " * 3  # 215 characters
    body = {
        "accountIds": [str(accounts["x"]), str(accounts["linkedin"])],
        "text": words.strip(),
        "link": "https://www.laregion.fr/marches",
        "mediaIds": [uploaded.json()["id"]],
        "scheduledAt": "2030-06-03T09:00:00+02:00",
    }
    composed = await client.post(f"/api/v1/personas/{ids[REGION]}/posts", json=body, headers=bearer(token))
    assert composed.status_code == 201, composed.text
    post_id = composed.json()["post"]["id"]
    x_delivery = next(d["id"] for d in composed.json()["deliveries"] if d["channel"] == "x")

    await login(client, demo["dircom.region"].email, demo["dircom.region"].password)
    page = (await client.get(f"/admin/personas/{ids[REGION]}/approvals")).text
    section = page[page.index(f'data-post="{post_id}"') :]
    media_src = f"/api/v1/personas/{ids[REGION]}/media/{uploaded.json()['id']}/file"
    assert f'src="{media_src}" alt="{ALT}"' in section
    assert f"{ALT}</span>" in section  # the alt text is read, not only given to screen readers
    x_card = re.search(r'<article class="preview" data-channel="x".*?</article>', section, re.S)
    linkedin_card = re.search(r'<article class="preview" data-channel="linkedin".*?</article>', section, re.S)
    assert x_card and linkedin_card
    assert "/ 280" in x_card.group(0) and 'class="folded"' not in x_card.group(0)  # X shows it all
    assert 'class="folded"' in linkedin_card.group(0)  # LinkedIn's feed folds it behind "voir plus"
    assert "www.laregion.fr" in linkedin_card.group(0)  # the link card names the site
    # the file itself is served to the approver
    served = await client.get(media_src)
    # a PNG on the Région (Instagram takes JPEG only) was stored as JPEG
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"

    post_page = (await client.get(f"/admin/personas/{ids[REGION]}/posts/{post_id}")).text
    assert f'alt="{ALT}"' in post_page and 'data-channel="x"' in post_page
    delivery_page = (await client.get(f"/admin/personas/{ids[REGION]}/deliveries/{x_delivery}")).text
    assert f'alt="{ALT}"' in delivery_page and "/ 280" in delivery_page


def test_past_its_limit_the_text_is_shown_cut_where_the_network_counts() -> None:
    text = "Voir https://www.laregion.fr/une-adresse-tres-longue-qui-compte-pour-vingt-trois " + "é" * 300
    kept = _fitting(text, 280, TextCounting.TWITTER)
    assert count_text(kept, TextCounting.TWITTER) <= 280 < count_text(text[: len(kept) + 1], TextCounting.TWITTER)
    assert kept.startswith("Voir https://www.laregion.fr/")  # the link weighs 23, whatever its length
