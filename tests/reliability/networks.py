"""The fake networks of a fault run, what they hold, and the texts the run publishes.

Four accounts of one persona, each on its own fake network (X, LinkedIn, Mastodon, Facebook),
each fake behind a :class:`~tests.reliability.chaos.ChaosProxy`. Only the fakes' public
surface is used: their constructors, ``make_account``, ``serve_in_thread`` and the posts they
store — read here as (network id, text as the author wrote it).
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plugins.testing import FakeNetwork, serve_in_thread
from plugins.testing.fakes.facebook import FakeFacebook
from plugins.testing.fakes.linkedin import FakeLinkedIn
from plugins.testing.fakes.mastodon import FakeMastodon
from plugins.testing.fakes.x import FakeX
from tests.reliability.chaos import ChaosProxy, ChaosRates

CHANNELS = ("x", "linkedin", "mastodon", "facebook")
_LITTLE_TEXT_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True)
class NetworkPost:
    remote_id: str
    text: str


def _copy(store: dict[str, Any]) -> list[Any]:
    """The values of a fake's store, read while its server thread may still be writing."""
    for _ in range(100):
        with contextlib.suppress(RuntimeError):  # "dictionary changed size during iteration"
            return list(store.values())
        time.sleep(0.01)
    return list(store.values())


def _x_posts(fake: Any, author: str) -> list[NetworkPost]:
    return [NetworkPost(t.id, t.text) for t in _copy(fake.tweets) if t.author_id == author]


def _linkedin_posts(fake: Any, author: str) -> list[NetworkPost]:
    # LinkedIn stores the "little text" the plugin sent: reserved characters backslash-escaped.
    return [
        NetworkPost(p["id"], _LITTLE_TEXT_ESCAPE.sub(r"\1", p.get("commentary") or ""))
        for p in _copy(fake.posts)
        if p.get("author") == author
    ]


def _mastodon_posts(fake: Any, author: str) -> list[NetworkPost]:
    return [
        NetworkPost(s["id"], s.get("text_source") or "") for s in _copy(fake.statuses) if s["account"]["id"] == author
    ]


def _facebook_posts(fake: Any, author: str) -> list[NetworkPost]:
    return [NetworkPost(p["id"], p.get("message") or "") for p in _copy(fake.posts) if p["id"].startswith(f"{author}_")]


_READERS: dict[str, Callable[[Any, str], list[NetworkPost]]] = {
    "x": _x_posts,
    "linkedin": _linkedin_posts,
    "mastodon": _mastodon_posts,
    "facebook": _facebook_posts,
}
# A run is about faults, not quotas: 250 posts a minute on one account is far beyond any
# network's (X counts 100 posts per 15 minutes, Mastodon 300 requests per 5 minutes), and an
# app that honours them would rightly wait a quarter of an hour. Mastodon's fake takes its quota
# as a parameter; X's counters are taken off its answers by the proxy. The 429s of R3 still
# carry the network's reset headers, and the proxy enforces them.
_FAKES: dict[str, Callable[[], FakeNetwork]] = {
    "x": FakeX,
    "linkedin": FakeLinkedIn,
    "mastodon": lambda: FakeMastodon(rate_limit=1_000_000),
    "facebook": FakeFacebook,
}
_HIDDEN_QUOTA = {"x": ("x-rate-limit-",)}


class Networks:
    """The four fakes, served on 127.0.0.1, each behind its own chaos proxy."""

    def __init__(self, *, seed: int, rates: ChaosRates, client_timeout: float) -> None:
        self.fakes: dict[str, Any] = {key: factory() for key, factory in _FAKES.items()}
        self.accounts: dict[str, Any] = {}  # channel -> AccountRef the fake issued
        self.proxies: dict[str, ChaosProxy] = {}
        self._stack = contextlib.ExitStack()
        self._seed, self._rates, self._client_timeout = seed, rates, client_timeout

    def start(self) -> dict[str, str]:
        """Serve every fake and its proxy; returns channel -> the proxy's URL (what the plugins use)."""
        for key, fake in self.fakes.items():
            upstream = self._stack.enter_context(serve_in_thread(fake))
            proxy = ChaosProxy(
                upstream,
                network=key,
                seed=self._seed,
                rates=self._rates,
                client_timeout=self._client_timeout,
                hide_quota=_HIDDEN_QUOTA.get(key, ()),
            )
            proxy.start()
            self._stack.callback(proxy.stop)
            self.proxies[key] = proxy
            self.accounts[key] = fake.make_account()
        return {key: proxy.url for key, proxy in self.proxies.items()}

    def stop(self) -> None:
        self._stack.close()

    def chaos(self, on: bool) -> None:
        for proxy in self.proxies.values():
            proxy.chaos.set() if on else proxy.chaos.clear()

    def faults(self) -> int:
        return sum(proxy.faults() for proxy in self.proxies.values())

    def in_flight(self) -> int:
        return sum(proxy.in_flight for proxy in self.proxies.values())

    def posts(self, channel: str) -> list[NetworkPost]:
        """What the network holds for our account on ``channel``, texts as the author wrote them."""
        return _READERS[channel](self.fakes[channel], self.accounts[channel].external_id)


# ------------------------------------------------------------------ texts
_PHRASES = (
    "les inscriptions aux transports scolaires sont ouvertes",
    "le budget participatif ouvre ses ateliers",
    "les lycées de la Région accueillent les journées portes ouvertes",
    "un nouveau train relie Toulouse et Montpellier",
    "la saison des randonnées commence dans les Pyrénées",
)
#: posts that differ only by their link: a reconcile that drops URLs takes one for the other
_LINK_SENTENCES = ("Le dossier de presse est en ligne :", "Toutes les aides de la Région sur")


def texts(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct post texts, with look-alikes on purpose: pairs that differ only by a
    link or by whitespace, HTML-entity-like sequences, emoji and line breaks."""
    out: list[str] = []
    while len(out) < count:
        n, draw = len(out), rng.random()
        if draw < 0.15:
            sentence = rng.choice(_LINK_SENTENCES)
            out += [f"{sentence} https://www.laregion.fr/actu/{n}-{k}" for k in ("a", "b")]
        elif draw < 0.25:
            phrase = rng.choice(_PHRASES)
            out += [f"Séance plénière n°{n} : {phrase}.", f"Séance plénière  n°{n} :  {phrase}."]
        elif draw < 0.35:
            out.append(f"Recherche &amp; innovation n°{n} : les labos R&D de la Région <3")
        elif draw < 0.45:
            out.append(f"Fête de la science n°{n} 🎉🔬\n\nRendez-vous dans les lycées !")
        else:
            out.append(f"Occitanie, annonce n°{n} : {rng.choice(_PHRASES)}.")
    return out[:count]
