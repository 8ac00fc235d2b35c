"""Simulated networks for the demo: the plugin testing kit's fake servers, on 127.0.0.1.

With ``PORTEVOIX_SIMULATED_NETWORKS=true`` (the default of ``portevoix run``) each fake network
installed through the ``portevoix.fakes`` entry points is served on a local port, the plugins
are pointed at it, and the demo accounts are connected to it — so a new user sees the whole
path work (compose, schedule, queue, plugin, HTTP request shaped as the network documents)
without any credentials. The admin labels them as simulated everywhere; nothing here ever
reaches a real network.
"""

from __future__ import annotations

import contextlib
import inspect
from datetime import timedelta
from typing import Any

from core.accounts.service import SimulatedIdentity, connect_simulated
from core.db.models import Account
from core.db.types import utcnow
from core.demo import inbox_is_empty, point_demo_watch
from core.runtime import Runtime
from core.settings import SIMULATED_SETTING
from plugins.testing import FakeNetwork, discover_fakes, serve_in_thread
from plugins.testing.feeds import ATOM, FakeFeeds, cap_document, item, rss_document


class SimulatedNetworks:
    def __init__(self) -> None:
        # Every installed fake network: the ``portevoix.fakes`` entry points, by channel key.
        self.fakes: dict[str, FakeNetwork] = {key: cls() for key, cls in discover_fakes().items()}
        for fake in self.fakes.values():
            # they run beside the instance: they fetch its media from 127.0.0.1 over plain HTTP
            # (the real networks, and the fakes in tests, take public HTTPS URLs only)
            if hasattr(fake, "loopback_media"):
                fake.loopback_media = True
        self.urls: dict[str, str] = {}
        #: the identity each demo account got, by (channel, handle): what the demo inbox is seeded for
        self.refs: dict[tuple[str, str], Any] = {}
        self._stack = contextlib.ExitStack()
        #: the simulated press and weather feeds the demo's watch reads (``seed_veille``)
        self.feeds = FakeFeeds()
        self.feeds_url = ""

    def start(self) -> dict[str, str]:
        for key, fake in self.fakes.items():
            self.urls[key] = self._stack.enter_context(serve_in_thread(fake))
        self.feeds_url = self._stack.enter_context(serve_in_thread(self.feeds))
        return self.urls

    def oauth_settings(self) -> dict[str, dict[str, str]]:
        """Plugin settings that send each OAuth flow to its fake's consent page (call after start):
        each fake says which (``FakeNetwork.plugin_settings``), with the environment's names
        (``extra_…`` for a plugin's own keys); the redirect URI is left to the app.

        Every simulated channel also gets ``extra_simulated``: its plugin accepts media URLs on
        127.0.0.1 (the instance's own, as ``portevoix run`` sets PORTEVOIX_PUBLIC_URL), and its
        deliveries link to no real network page (``core.publishing.outbox``). The environment
        cannot set it (``core.settings``): production still needs public HTTPS."""
        return {
            key: {**self.fakes[key].plugin_settings(url), SIMULATED_SETTING: "true"} for key, url in self.urls.items()
        }

    def stop(self) -> None:
        self._stack.close()

    async def connect_accounts(self, runtime: Runtime) -> int:
        """Give every account of a simulated channel an identity and credentials on its fake network."""

        def identity(account: Account) -> SimulatedIdentity | None:
            if account.channel not in self.fakes:
                return None
            ref = _make_account(self.fakes[account.channel], account)
            self.refs[(account.channel, account.handle)] = ref
            return SimulatedIdentity(external_id=ref.external_id, credentials=ref.credentials)

        async with runtime.session() as session:
            return await connect_simulated(session, runtime.vault, identity)

    async def seed_inbox(self, runtime: Runtime) -> int:
        """A few comments, a mention and private messages on the demo accounts' networks (call after
        :meth:`connect_accounts`), so that the first poll fills the demo inbox. Only into an empty
        inbox: the networks are new at every start, the database is not. Returns how many were seeded."""
        async with runtime.sessions() as session:
            if not await inbox_is_empty(session):
                return 0
        seeded = 0
        for seed in (_seed_facebook, _seed_instagram, _seed_linkedin, _seed_x):
            seeded += seed(self.fakes, self.refs)
        return seeded

    async def seed_veille(self, runtime: Runtime) -> int:
        """The Région's watch on simulated feeds (a regional press feed, MeteoAlarm's warnings), so
        that the board fills at the first collection. The feeds move to a new port at every start:
        the demo's sources are found by label and pointed at it. Returns the sources set."""
        _demo_feeds(self.feeds, self.feeds_url)
        wanted = [
            ("rss", f"{self.feeds_url}/demo/presse", DEMO_PRESS_LABEL),
            ("meteoalarm", f"{self.feeds_url}/demo/meteoalarm", DEMO_WEATHER_LABEL),
        ]
        async with runtime.session() as session:
            return await point_demo_watch(session, wanted)

    def received(self, key: str) -> list[dict[str, Any]]:
        """What a simulated network received, newest first (for the admin's simulated-network page)."""
        fake = self.fakes[key]
        return [
            {"method": r.method, "path": r.path, "at": r.at, "body": r.body.decode("utf-8", "replace")[:2000]}
            for r in reversed(fake.received)
            if r.method != "GET"
        ]


def _make_account(fake: FakeNetwork, account: Account) -> Any:
    # Fakes that model several users take a handle; the others have one account each.
    parameters = inspect.signature(fake.make_account).parameters  # type: ignore[attr-defined]
    if "username" in parameters:
        return fake.make_account(account.handle, name=account.display_name or account.handle)  # type: ignore[attr-defined]
    if "handle" in parameters:
        return fake.make_account(f"{account.handle.lower()}.bsky.social")  # type: ignore[attr-defined]
    return fake.make_account()  # type: ignore[attr-defined]


# ------------------------------------------------------------------ the demo inbox
# Each seeder uses the fake's public helpers, and seeds nothing when its network or account is absent.
Fakes = dict[str, FakeNetwork]
Refs = dict[tuple[str, str], Any]


def _seed_facebook(fakes: Fakes, refs: Refs) -> int:
    fake: Any = fakes.get("facebook")
    if fake is None or ("facebook", "RegionOccitanie") not in refs:
        return 0
    post = fake.seed_post("Cet été, le TER est à 1 € les week-ends sur toute l'Occitanie ! 🚆")
    first = fake.seed_comment(post, "Super initiative ! Est-ce valable aussi pour les trajets Toulouse-Albi ?")
    fake.seed_comment(post, "Oui, toutes les lignes liO sont concernées 👍", author=("6200000000000002", "Luc Fabre"),
                      parent_id=first)  # fmt: skip
    fake.seed_comment(post, "Et les trains sont toujours en retard… Pensez d'abord à la ponctualité.",
                      author=("6200000000000003", "Martine Roux"))  # fmt: skip
    fake.seed_conversation(
        "7100000000000001",
        "Inès Robert",
        ["Bonjour,", "Je voudrais savoir comment demander une aide régionale pour le permis de conduire. Merci !"],
    )
    return 5


def _seed_instagram(fakes: Fakes, refs: Refs) -> int:
    fake: Any = fakes.get("instagram")
    ref = refs.get(("instagram", "camille.delorme"))  # the president's account: the comments are addressed to her
    if fake is None or ref is None:
        return 0
    media = fake.seed_media(
        "Ce matin au marché de Narbonne, à la rencontre des producteurs de notre région. 🍅🧀", account=ref
    )
    fake.seed_comment(
        media,
        "Merci Madame la Présidente d'être venue ! Quand la ligne de bus du dimanche reviendra-t-elle à Gruissan ?",
        username="julie.narbonne",
        user_id="17841400000000101",
    )
    fake.seed_comment(media, "Belle matinée, on vous attend à Lézignan ! 😊", username="pierre_corbieres",
                      user_id="17841400000000102")  # fmt: skip
    return 2


def _seed_linkedin(fakes: Fakes, refs: Refs) -> int:
    fake: Any = fakes.get("linkedin")
    if fake is None or not any(channel == "linkedin" for channel, _ in refs):
        return 0
    post = fake.add_post("La Région lance un nouveau fonds de soutien à l'export pour les PME industrielles.")
    fake.add_comment(post, "Excellente nouvelle. Où trouver le cahier des charges de l'appel à projets ?",
                     actor="urn:li:person:demo001")  # fmt: skip
    return 1


def _seed_x(fakes: Fakes, refs: Refs) -> int:
    fake: Any = fakes.get("x")
    ref = refs.get(("x", "Occitanie"))
    if fake is None or ref is None:
        return 0
    fake.add_mention(ref, "les inscriptions au Pass Culture régional sont-elles ouvertes ?", author="etudiante_mtp")
    return 1


# ------------------------------------------------------------------ the demo watch
DEMO_PRESS_LABEL = "Presse régionale (simulée)"
DEMO_WEATHER_LABEL = "MeteoAlarm France (simulé)"
_PRESS = [
    ("Le TER à 1 € prolongé jusqu'en mars sur les lignes liO", "La Région confirme la prolongation de l'offre."),
    ("Montpellier : le chantier du nouveau lycée Georges-Frêche avance", "Livraison prévue à la rentrée 2027."),
    ("Tourisme : une saison record sur le littoral audois", "Les professionnels saluent la fréquentation."),
    ("Agriculture : la sécheresse inquiète les viticulteurs du Gard", "Les syndicats demandent des aides."),
    ("Toulouse : un salon de l'aéronautique pour les lycéens", "Trois jours de découverte des métiers."),
    ("Perpignan : la ligne de bus régionale vers Céret rouvre", "Les travaux de la route sont terminés."),
]


def _demo_feeds(feeds: FakeFeeds, base: str) -> None:
    """A press feed dated from now (the board's newest first) and a yellow thunderstorm warning
    for the Hérault (a vigilance below orange: shown, no crisis posture proposed)."""
    now = utcnow()
    press = [
        item(
            f"demo-presse-{n}",
            title,
            link=f"{base}/demo/articles/{n}",
            description=f"<p>{text}</p>",
            when=now - timedelta(hours=3 * n + 1),
        )  # fmt: skip
        for n, (title, text) in enumerate(_PRESS)
    ]
    feeds.put("/demo/presse", rss_document(press, title="Presse régionale (simulée)", ttl_min=60))
    for n, (title, text) in enumerate(_PRESS):  # the articles the board links to
        page = (
            f'<!doctype html><html lang="fr"><meta charset="utf-8"><title>{title}</title><h1>{title}</h1><p>{text}</p>'
        )
        feeds.put(f"/demo/articles/{n}", page.encode(), content_type="text/html; charset=utf-8")
    warning = {
        "id": "demo-meteoalarm-34-orages",
        "title": "Vigilance jaune orages : Hérault",
        "event": "Yellow thunderstorm warning",
        "severity": "Moderate",
        "area": "Hérault",
        "emma": "FR034",
    }
    feeds.put("/demo/meteoalarm", cap_document([warning]), content_type=ATOM)
