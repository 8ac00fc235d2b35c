"""``portevoix channels``: every discovered plugin with its version, contract and features, and
each disabled one with why.

The broken plugin is a real installed distribution: a ``*.dist-info`` folder with an
``entry_points.txt``, put on the ``PYTHONPATH`` of a ``portevoix`` subprocess only, so the
rest of the suite never sees it. It points at ``tests.plugins.broken_plugin``, whose import
fails as a third party's missing dependency would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.channels.registry import ENTRY_POINT_GROUP, describe, discover

ROOT = Path(__file__).resolve().parents[2]
BUILT_INS = ("facebook", "instagram", "linkedin", "x", "tiktok", "bluesky", "mastodon")
BROKEN = "tests.plugins.broken_plugin"


def _distribution(site: Path, name: str, entry_points: dict[str, str]) -> None:
    """Install a distribution the way pip leaves it: METADATA and entry points in a dist-info."""
    info = site / f"{name.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def _portevoix(site: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTEVOIX_")}
    env["PYTHONPATH"] = os.pathsep.join([*([str(site)] if site else []), str(ROOT)])
    command = [sys.executable, "-m", "web.cli", "channels", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    _distribution(
        tmp_path,
        "portevoix-kaput",
        {"kaput": f"{BROKEN}.raises_on_import:Plugin", "future": f"{BROKEN}.plugins:FromTheFuture"},
    )
    return tmp_path


def test_lists_the_built_ins_the_example_and_a_broken_plugin_with_its_reason(site: Path) -> None:
    result = _portevoix(site)
    assert result.returncode == 1, result.stderr  # a disabled plugin: scripts and CI notice
    out = result.stdout
    for key in (*BUILT_INS, "webhook"):
        assert f"\n  {key:<10} " in out, f"{key} missing from:\n{out}"
    assert "X (Twitter)  ·  porte-voix 0.1.0  ·  contract 1" in out
    assert "portevoix_webhook_channel:WebhookChannel" in out and "portevoix-webhook-channel 0.1.0" in out
    assert (
        "features: delete, hide, inbox, metrics, oauth, publish, quote, reconcile, reply, repost, search, webhooks"
        in out
    )
    disabled = out.split("Disabled:")[1]
    assert f"kaput      {BROKEN}.raises_on_import:Plugin  ·  portevoix-kaput 0.0.1" in disabled
    assert "ImportError: portevoix_broken needs the 'frobnicate' package" in disabled
    assert "supports contract versions ['99'], this Porte-voix speaks 1" in disabled
    assert "channel plugin disabled" in result.stderr  # the log goes to stderr, not into the report


def test_json_report_is_the_registry_description(site: Path) -> None:
    result = _portevoix(site, "--json")
    report = json.loads(result.stdout)  # nothing but the report on stdout
    loaded = {p["key"]: p for p in report["loaded"]}
    assert set(BUILT_INS) | {"webhook"} <= set(loaded)
    assert loaded["tiktok"]["features"] == ["metrics", "oauth", "publish", "publish_options", "reconcile", "webhooks"]
    assert loaded["tiktok"]["formats"] == ["video", "photo"]
    assert loaded["mastodon"]["distribution"] == "porte-voix" and loaded["mastodon"]["contract_versions"] == ["1"]
    assert {(b["name"], b["distribution"]) for b in report["disabled"]} == {
        ("kaput", "portevoix-kaput"),
        ("future", "portevoix-kaput"),
    }


def test_a_clean_install_exits_zero() -> None:
    result = _portevoix(None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Disabled:" not in result.stdout


def test_a_duplicate_key_is_listed_not_fatal(tmp_path: Path) -> None:
    # Starting the host with two plugins on one key stops it (DuplicateChannelKey); the listing
    # shows which one was refused instead.
    _distribution(tmp_path, "portevoix-twin", {"webhook2": f"{BROKEN}.plugins:AnotherWebhook"})
    result = _portevoix(tmp_path)
    assert "DuplicateChannelKey: channel key 'webhook' is claimed by both" in result.stdout


def test_describe_reads_the_registry() -> None:
    report = describe(discover())
    assert report.contract_version == "1" and report.disabled == ()
    x = next(p for p in report.loaded if p.key == "x")
    assert (x.name, x.source, x.formats) == (
        "X (Twitter)",
        "plugins.channels.x:XPlugin",
        ("post", "photo", "video"),
    )
