"""The draft file read by ``portevoix policy explain --persona SLUG FILE`` (TOML or JSON).

    channel = "x"
    format = "post"
    text = "La Région ouvre les inscriptions aux transports scolaires. #TransportScolaire"
    scheduled_at = 2027-01-15T10:00:00          # local time of the persona, or with an offset
    paid_boost = false

    [[media]]
    kind = "image"
    alt_text = "Un car scolaire jaune devant le lycée Pierre-de-Fermat à Toulouse"
    origin = "region_dam"

    [day_counts]                                 # what is already planned that day on this channel
    posts = 2

Every context field of :class:`PolicyContext` that a person can know has a key here; the
network's hard limits and the elections come from ``core`` and the elections file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import msgspec

from personas.policy.elections import Election, default_elections
from personas.policy.engine import Override
from personas.policy.model import (
    DayCount,
    Employer,
    MediaInput,
    NetworkViolation,
    Novelty,
    PolicyContext,
    PolicyDraft,
    Regularity,
    RepostOf,
    Stage,
)


class DraftFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    channel: str
    text: str = ""
    format: str = "post"
    media: tuple[MediaInput, ...] = ()
    link: str | None = None
    title: str | None = None
    scheduled_at: datetime | None = None  # None: now
    stage: Stage = Stage.DRAFT
    paid_boost: bool = False
    electoral_character: bool | None = None
    repost_of: RepostOf | None = None
    composer_employer: Employer | None = None
    day_counts: DayCount | None = None  # for this draft's channel
    regularity: Regularity | None = None
    novelty: Novelty = Novelty()
    overrides: tuple[Override, ...] = ()


class DraftFileError(Exception):
    def __init__(self, path: Path | str, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


def load_draft_file(path: Path | str) -> DraftFile:
    """Decode a ``.toml`` or ``.json`` draft file; raise :class:`DraftFileError` saying why not."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DraftFileError(path, f"cannot read: {exc.strerror}") from exc
    decode = msgspec.json.decode if path.suffix.lower() == ".json" else msgspec.toml.decode
    try:
        return decode(raw, type=DraftFile)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DraftFileError(path, str(exc)) from exc


def draft_file_inputs(
    draft_file: DraftFile,
    *,
    now: datetime,
    elections: Iterable[Election] | None = None,
    network_violations: Iterable[NetworkViolation] = (),
) -> tuple[PolicyDraft, PolicyContext]:
    """The draft and context to pass to :func:`personas.policy.evaluate`.

    ``now`` is used when the file has no ``scheduled_at``. A naive ``scheduled_at`` is read in
    the persona's time zone by the engine. ``elections`` defaults to the shipped file.
    """
    draft = PolicyDraft(
        channel=draft_file.channel,
        text=draft_file.text,
        format=draft_file.format,
        media=draft_file.media,
        link=draft_file.link,
        title=draft_file.title,
    )
    context = PolicyContext(
        moment=draft_file.scheduled_at or now,
        stage=draft_file.stage,
        day_counts={draft_file.channel: draft_file.day_counts} if draft_file.day_counts else {},
        elections=tuple(elections) if elections is not None else default_elections(),
        network_violations=tuple(network_violations),
        repost_of=draft_file.repost_of,
        composer_employer=draft_file.composer_employer,
        paid_boost=draft_file.paid_boost,
        electoral_character=draft_file.electoral_character,
        regularity=draft_file.regularity,
        novelty=draft_file.novelty,
    )
    return draft, context
