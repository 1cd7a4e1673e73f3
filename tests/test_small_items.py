"""The smaller things a user runs into: `--json` before the command, a broken checkpoint or
lock path named clearly, configuration values checked when loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from service.cli.main import main
from service.settings import load_settings
from sync.errors import ConfigError
from sync.store import StoreLayout, init_store


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StoreLayout:
    for name in [k for k in os.environ if k.startswith("MEMSYNC_")]:
        monkeypatch.delenv(name)
    layout, _ = init_store(tmp_path / "proj" / ".memsync")
    monkeypatch.chdir(layout.root.parent)
    return layout


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, json.loads(out), err


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "status"],
        ["status", "--json"],
        ["--json", "status", "--json"],
        ["--json", "sync", "--scope", "memories", "--dry-run"],
        ["--json", "index", "migrate"],
    ],
)
def test_json_before_or_after_the_command(
    store: StoreLayout, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, data, _ = run(capsys, *argv)  # exactly one JSON document on stdout
    assert code == 0 and isinstance(data, dict) and "error" not in data


def test_text_unless_asked(store: StoreLayout, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 0
    assert capsys.readouterr().out.startswith("store:")


def test_a_checkpoint_with_a_null_section_is_named(
    store: StoreLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    store.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    store.checkpoint_path.write_text(json.dumps({"version": 1, "memories": None}))
    code, data, err = run(capsys, "--json", "sync", "--scope", "memories")
    assert code == 1 and data["error"]["type"] == "CheckpointError"
    message = data["error"]["message"]
    assert "'memories' must be an object, found null" in message and "sync-state.json" in message
    assert "memsync sync --force" in message and "internal error" not in err
    store.checkpoint_path.write_text("[1, 2]")
    code, data, _ = run(capsys, "--json", "status")
    assert code == 1 and "not a JSON object" in data["error"]["message"]


def test_a_lock_path_that_is_a_folder_is_named(
    store: StoreLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    store.lock_path.mkdir(parents=True)
    code, data, err = run(capsys, "--json", "sync", "--scope", "memories")
    assert code == 1 and "internal error" not in err
    assert "sync.lock is a folder" in data["error"]["message"]


@pytest.mark.parametrize(
    ("config", "env", "says"),
    [
        ("max_file_bytes = 0\n", {}, "max_file_bytes=0: must be at least 1024"),
        ("max_file_bytes = -5\n", {}, "max_file_bytes=-5"),
        ('[daily]\ntimezone = "Mars/Olympus_Mons"\n', {}, "not a known IANA time zone"),
        ('[daily]\ntimezone = "../../etc/passwd"\n', {}, "not a known IANA time zone"),
        ("", {"MEMSYNC_TIMEZONE": "Nowhere/Land"}, "MEMSYNC_TIMEZONE 'Nowhere/Land'"),
        ("[service]\nport = 70000\n", {}, "port=70000"),
        ("[service]\nsync_interval_min = -1\n", {}, "must not be negative"),
        ("[dedup]\nneighbours = 0\n", {}, "neighbours at least 1"),
    ],
)
def test_bad_config_values_fail_at_load(
    store: StoreLayout,
    capsys: pytest.CaptureFixture[str],
    config: str,
    env: dict[str, str],
    says: str,
) -> None:
    store.config_path.write_text(config, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(store, {"HOME": str(store.root.parent), **env})
    assert says in str(caught.value)
    if not env:  # and the CLI says so with exit code 2
        code, data, _ = run(capsys, "--json", "status")
        assert code == 2 and says in data["error"]["message"]


def test_good_zones_load(store: StoreLayout) -> None:
    store.config_path.write_text('[daily]\ntimezone = "Europe/Paris"\n', encoding="utf-8")
    assert load_settings(store, {"HOME": "/nonexistent"}).daily_timezone == "Europe/Paris"
    assert load_settings(store, {"HOME": "/x", "MEMSYNC_TIMEZONE": "UTC"}).daily_timezone == "UTC"
