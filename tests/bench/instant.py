"""A channel whose network answers at once: what the benchmark measures is Porte-voix, not a network."""

from __future__ import annotations

from core.channels import (
    AccountRef,
    Capabilities,
    ChannelPlugin,
    Draft,
    Feature,
    Format,
    FormatRules,
    PreparedRequest,
    PublishResult,
    TextRules,
)
from plugins.testing import FakeNetwork, FakeResponse, ReceivedRequest, route


class InstantPlugin(ChannelPlugin):
    key = "instant"
    name = "Instant (benchmark)"
    default_base_url = "http://127.0.0.1:9"
    capabilities = Capabilities(
        text=TextRules(limit=5000),
        formats=(FormatRules(format=Format.POST),),
        features=frozenset({Feature.PUBLISH}),
    )

    async def prepare_publish(self, account: AccountRef, draft: Draft) -> tuple[PreparedRequest, ...]:
        return (PreparedRequest(method="POST", url=f"{self.base_url}/posts", json={"text": draft.text}),)

    async def publish(self, account: AccountRef, draft: Draft) -> PublishResult:
        response = await self.http.post(f"{self.base_url}/posts", json={"text": draft.text, "ref": draft.client_ref})
        response.raise_for_status()
        return PublishResult(remote_id=str(response.json()["id"]))


class InstantNetwork(FakeNetwork):
    key = "instant"

    @route("POST", "/posts")
    async def create(self, request: ReceivedRequest) -> FakeResponse:
        return FakeResponse(status=201, json={"id": self.next_id()})

    def make_account(self) -> AccountRef:
        from core.channels import Credentials

        return AccountRef(external_id="bench", handle="bench", credentials=Credentials(access_token="t"))
