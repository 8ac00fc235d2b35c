"""Rules that enforce themselves: the one-way arrows between the floors, and ruff.

The arrows (docs/architecture.md): ``web → core ← plugins``, ``core → personas``.

- ``core`` never imports ``web`` nor a web framework or template engine;
- a channel plugin (``plugins/channels``) imports only the public contract ``core.channels`` (with
  its HTTP kit) and ``plugins`` itself, never the host side, the database, the queue or the web;
- the plugin kit (``plugins/testing``) is for third-party authors: the same rule;
- ``personas`` imports nothing of Porte-voix.

Each rule is checked on the real tree, and each check is shown to fail on a deliberate
violation (a rule that cannot fail is no rule).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("core", "personas", "plugins", "web")
#: the public contract a plugin may import; ``core.channels.host`` and ``.registry`` are the host's;
#: a feed plugin (``plugins/feeds``) imports the feed contract ``core.veille.feeds``
PLUGIN_CONTRACT = ("core.channels", "core.channels.contract", "core.channels.http", "core.channels.text",
                   "core.channels.validation", "core.veille.feeds")  # fmt: skip
WEB_FRAMEWORKS = ("litestar", "jinja2", "starlette", "uvicorn", "web")
PLUGIN_FORBIDDEN_LIBRARIES = ("arq", "sqlalchemy", "litestar", "redis", "alembic")


class Violation(msgspec.Struct, frozen=True):
    module: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported} ({self.rule})"


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports, relative imports resolved, ``from x import y`` as ``x.y`` too."""
    module = _module_name(root, path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            # ``from core import db`` imports the module core.db
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _is(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _exists(root: Path, name: str) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _rule_for(module: str) -> tuple[str, object] | None:
    if _is(module, ("core",)):
        return "core knows no web framework", lambda name: _is(name, WEB_FRAMEWORKS)
    if _is(module, ("personas",)):
        return "personas imports nothing of Porte-voix", lambda name: _is(name, ("core", "plugins", "web"))
    if _is(module, ("plugins",)):

        def forbidden(name: str) -> bool:
            if _is(name, PLUGIN_FORBIDDEN_LIBRARIES) or _is(name, ("web",)):
                return True
            return _is(name, ("core",)) and name not in PLUGIN_CONTRACT

        return "plugins import only the public contract core.channels", forbidden
    return None


def check_imports(root: Path) -> list[Violation]:
    """Every import in ``root``'s first-party packages that breaks an arrow."""
    found: list[Violation] = []
    for package in FIRST_PARTY:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = _module_name(root, path)
            rule = _rule_for(module)
            if rule is None:
                continue
            label, forbidden = rule
            seen: set[int] = set()  # one violation per import statement
            for line, name in _imports(root, path):
                if line in seen:
                    continue
                # ``from core.channels import Draft`` yields core.channels.Draft: not a module, not checked
                is_module = not _is(name, FIRST_PARTY) or _exists(root, name)
                if is_module and forbidden(name):  # type: ignore[operator]
                    found.append(Violation(module, line, name, label))
                    seen.add(line)
    return found


def test_the_floors_keep_their_arrows() -> None:
    violations = check_imports(ROOT)
    assert not violations, "\n".join(map(str, violations))


@pytest.mark.parametrize(
    ("path", "source", "rule"),
    [
        ("core/bad.py", "from litestar import get\n", "core knows no web framework"),
        ("core/publishing/bad.py", "from ...web import app\n", "core knows no web framework"),
        ("personas/bad.py", "import core.db.models\n", "personas imports nothing of Porte-voix"),
        ("plugins/channels/bad.py", "from core.db.models import Delivery\n", "plugins import only"),
        ("plugins/channels/bad.py", "from core.channels.host import ChannelHost\n", "plugins import only"),
        ("plugins/testing/bad.py", "import sqlalchemy\n", "plugins import only"),
    ],
)
def test_a_broken_arrow_is_found(tmp_path: Path, path: str, source: str, rule: str) -> None:
    for package in FIRST_PARTY:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.html"))
    (tmp_path / path).write_text(source)
    violations = check_imports(tmp_path)
    assert [v.rule[: len(rule)] for v in violations] == [rule]
    assert violations[0].module == path.removesuffix(".py").replace("/", ".")


def test_allowed_imports_are_not_flagged(tmp_path: Path) -> None:
    (tmp_path / "plugins" / "channels").mkdir(parents=True)
    (tmp_path / "core" / "channels").mkdir(parents=True)
    (tmp_path / "core" / "channels" / "__init__.py").write_text("")
    (tmp_path / "plugins" / "channels" / "ok.py").write_text(
        "import httpx\nfrom core.channels import Draft\nfrom plugins.channels import _meta\n"
    )
    assert check_imports(tmp_path) == []


# ------------------------------------------------------------------ ruff
def _ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    ruff = Path(sys.executable).with_name("ruff")
    return subprocess.run([str(ruff), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_ruff_lint_and_format_are_clean() -> None:
    lint = _ruff("check", "--no-cache", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatted = _ruff("format", "--check", "--no-cache", ".")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_ruff_fails_on_a_violation(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "bad.py").write_text("import os\nx=1\n")
    lint = _ruff("check", "--no-cache", ".", cwd=tmp_path)
    assert lint.returncode == 1 and "F401" in lint.stdout
    formatted = _ruff("format", "--check", "--no-cache", ".", cwd=tmp_path)
    assert formatted.returncode == 1 and "bad.py" in formatted.stdout
