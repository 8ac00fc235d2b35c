"""The built-in rules. Importing this package registers them; the import order is the order
of rules in the registry (and of findings of equal severity in a report)."""

from personas.policy.rules import (
    accessibility,  # noqa: F401
    editorial,  # noqa: F401 - the persona's line first
    electoral,  # noqa: F401
    language,  # noqa: F401
)
