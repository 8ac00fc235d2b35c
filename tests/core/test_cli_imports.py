"""`portevoix --help` answers without the heavy imports (Alembic, SQLAlchemy, Litestar): the
command line is the first thing an operator types, and it must answer at once (issue 15, B6)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("alembic", "sqlalchemy", "litestar", "arq", "PIL", "av")


def test_the_help_imports_none_of_the_heavy_libraries() -> None:
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from web.cli import cli\n"
        "result = CliRunner().invoke(cli, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'Usage' in result.output\n"
        f"print(','.join(sorted(name for name in {HEAVY!r} if name in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "", f"imported at --help: {done.stdout.strip()}"


def test_the_db_commands_still_reach_alembic() -> None:
    probe = (
        "from click.testing import CliRunner\n"
        "from web.cli import cli\n"
        "result = CliRunner().invoke(cli, ['db', 'current'], env={'PORTEVOIX_DATABASE_URL': 'sqlite+aiosqlite:///:memory:'})\n"
        "print(result.exit_code, result.output)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.startswith("0 "), done.stdout + done.stderr
    assert "code:" in done.stdout
