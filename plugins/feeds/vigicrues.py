"""Vigicrues' flood vigilance (``services/1/InfoVigiCru.geojson``): one entry per river section
above green.

Each GeoJSON feature is a river section (``CdEntCru``, ``LbEntCru`` / ``lbentcru``) with its
current level ``NivInfViCr`` on the national scale 1 green, 2 yellow, 3 orange, 4 red. A
section's id is its code and its level, so a section turning orange is a new item, and the same
orange read every ten minutes is one item. Green sections (no particular vigilance, hundreds of
them) bring nothing. Open data, Licence Ouverte / Etalab: credit "Vigicrues".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from core.veille.feeds import FeedEntry, FeedError, FeedPlugin, ParsedFeed, Severity

LEVELS = {1: Severity.GREEN, 2: Severity.YELLOW, 3: Severity.ORANGE, 4: Severity.RED}
#: the French words the item's title uses (the board shows it as the official source says it)
COLOURS_FR = {Severity.YELLOW: "jaune", Severity.ORANGE: "orange", Severity.RED: "rouge"}
PUBLIC_PAGE = "https://www.vigicrues.gouv.fr/"


def _level(props: Mapping[str, Any]) -> int | None:
    for name in ("NivInfViCr", "NivSituVigiCruEnt", "NivSituVigiCru"):
        try:
            return int(props[name])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _first(props: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = props.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


class VigicruesFeed(FeedPlugin):
    key = "vigicrues"
    name = "Vigicrues"
    crisis = True
    accept = "application/geo+json, application/json;q=0.9"

    def parse(self, body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
        try:
            document = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise FeedError(f"not JSON: {exc}"[:300]) from None
        features = document.get("features") if isinstance(document, dict) else None
        if not isinstance(features, list):
            raise FeedError("not a GeoJSON FeatureCollection")
        entries = []
        for feature in features:
            props = feature.get("properties") if isinstance(feature, dict) else None
            if not isinstance(props, dict):
                continue
            severity = LEVELS.get(_level(props) or 0)
            if severity is None or severity is Severity.GREEN:
                continue
            code = _first(props, "CdEntCru", "CdEntVigiCru", "gid")
            section = _first(props, "LbEntCru", "lbentcru", "NomEntVigiCru") or code
            entries.append(
                FeedEntry(
                    guid=f"{code}:{severity.value}",
                    url=PUBLIC_PAGE,
                    title=f"Vigilance crues {COLOURS_FR[severity]} : {section}",
                    summary=f"Vigicrues : vigilance {COLOURS_FR[severity]} sur le tronçon {section} ({code}).",
                    summary_is_html=False,
                    author="Vigicrues",
                    severity=severity,
                    area=section,
                )
            )
        return ParsedFeed(entries=tuple(entries))
