"""Persona definitions as data (TOML decoded with msgspec) and the editorial rules that read them.

Knows nothing of the database or the web: ``core`` calls in, never the other way round.
"""

from personas.loader import SEED_DIR, PersonaFileError, load_dir, load_file
from personas.schema import AccountMode, AccountSeed, ChannelPolicy, OfficeHolder, PersonaFile, PersonaKind, Severity

__all__ = [
    "SEED_DIR",
    "AccountMode",
    "AccountSeed",
    "ChannelPolicy",
    "OfficeHolder",
    "PersonaFile",
    "PersonaFileError",
    "PersonaKind",
    "Severity",
    "load_dir",
    "load_file",
]
