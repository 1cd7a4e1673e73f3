"""The command line as users and scripts meet it: JSON on stdout, exit codes, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from service.settings import load_settings
from sync.errors import ConfigError
from sync.index.checkpoint import load_checkpoint
from sync.lock import WriterLock
from sync.store import StoreLayout
from tests.conftest import (
    MEMSYNC,
    REPO,
    cli_env,
    one_json,
    open_embedded,
    point_count,
    run,
    seed,
    write_memory_file,
)


def test_usage_errors_exit_2(project: tuple[Path, dict[str, str]]) -> None:
    proj, env = project
    assert run(["sync", "--no-such-flag"], proj, env).returncode == 2
    res = run(["ask", "x", "--k", "0", "--json"], proj, env)
    assert res.returncode == 2 and "--k" in one_json(res.stdout)["error"]["message"]


def test_no_store_is_a_clear_error_with_the_fix(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["PYTHONPATH"] = str(REPO)
    res = run(["status", "--json"], tmp_path, env)
    assert res.returncode == 2
    assert "memsync init" in one_json(res.stdout)["error"]["message"]
    assert "memsync init" in res.stderr


def test_store_found_from_a_subfolder_and_via_memsync_dir(
    project: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    proj, env = project
    sub = proj / "src" / "deep"
    sub.mkdir(parents=True)
    assert one_json(run(["status", "--json"], sub, env).stdout)["store"] == str(proj / ".memsync")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = run(["status", "--json"], elsewhere, {**env, "MEMSYNC_DIR": str(proj / ".memsync")})
    assert one_json(res.stdout)["store"] == str(proj / ".memsync")


def test_bad_config_fails_fast_naming_the_setting(project: tuple[Path, dict[str, str]]) -> None:
    proj, env = project
    (proj / ".memsync" / "config.toml").write_text("[qdrant]\nurl = 'ftp://x'\n")
    res = run(["sync", "--json"], proj, env)
    assert res.returncode == 2 and "http://" in one_json(res.stdout)["error"]["message"]
    (proj / ".memsync" / "config.toml").write_text("bogus_key = 1\n")
    res = run(["status"], proj, env)
    assert res.returncode == 2 and "unknown setting `bogus_key`" in res.stderr
    # spelled as in the file, with the closest setting
    (proj / ".memsync" / "config.toml").write_text(
        "[dedup]\nnoop_treshold = 0.9\n[askk]\nmin_score = 0.2\n"
    )
    res = run(["status"], proj, env)
    assert res.returncode == 2, res.stderr
    assert "unknown setting `[dedup] noop_treshold`; did you mean `[dedup] noop_threshold`?" in (
        res.stderr
    )
    assert "unknown section `[askk]`; did you mean `[ask]`?" in res.stderr
    assert "dedup_noop" not in res.stderr
    (proj / ".memsync" / "config.toml").write_text("[model]\nbackend = 'tensorrt'\n")
    res = run(["status"], proj, env)
    assert res.returncode == 2 and "'auto'" in res.stderr and "'torch'" in res.stderr


def test_model_settings_read_from_the_model_section(tmp_path: Path) -> None:
    layout = StoreLayout(tmp_path / "proj" / ".memsync")
    layout.root.mkdir(parents=True)
    layout.config_path.write_text(
        "[model]\nname = 'all-MiniLM-L6-v2'\nbackend = 'torch'\ncache_dir = '/tmp/graphs'\n"
    )
    settings = load_settings(layout, {"HOME": str(tmp_path)})
    assert (settings.model, settings.model_backend) == ("all-MiniLM-L6-v2", "torch")
    assert settings.model_cache_dir == "/tmp/graphs"
    env = {"HOME": str(tmp_path), "MEMSYNC_MODEL_BACKEND": "onnx"}
    assert load_settings(layout, env).model_backend == "onnx"
    layout.config_path.write_text("model = 'all-MiniLM-L6-v2'\n[model]\nbackend = 'onnx'\n")
    with pytest.raises(ConfigError, match="name = "):
        load_settings(layout, {"HOME": str(tmp_path)})
    assert load_settings(None, {"HOME": str(tmp_path)}).model_backend == "auto"


def test_malformed_file_exits_3_and_status_shows_the_queue(
    project: tuple[Path, dict[str, str]],
) -> None:
    proj, env = project
    layout = StoreLayout(proj / ".memsync")
    write_memory_file(layout, "decisions/bad.md", "---\nconfidence: high\n---\nbody\n")
    res = run(["sync", "--json"], proj, env)
    assert res.returncode == 3, res.stderr
    report = one_json(res.stdout)
    assert report["counts"]["failed"] == 1 and report["counts"]["retry_queue"] == 1
    assert "field 'confidence'" in report["failures"][0]["error"]
    status = one_json(run(["status", "--json"], proj, env).stdout)
    assert [r["path"] for r in status["retry_queue"]] == ["decisions/bad.md"]
    dropped = run(["retry", "--drop", "decisions/bad.md", "--json"], proj, env)
    assert one_json(dropped.stdout)["dropped"] == ["decisions/bad.md"]
    again = run(["sync", "--json"], proj, env)
    assert again.returncode == 0 and one_json(again.stdout)["counts"]["skipped"] == 1


def test_lock_busy_exits_4(project: tuple[Path, dict[str, str]]) -> None:
    proj, env = project
    layout = StoreLayout(proj / ".memsync")
    with WriterLock(layout.lock_path):
        res = run(["sync", "--json"], proj, env)
    assert res.returncode == 4
    assert "another memsync writer" in one_json(res.stdout)["error"]["message"]


def test_dry_run_json_and_no_lock_file_left(project: tuple[Path, dict[str, str]]) -> None:
    proj, env = project
    seed(proj, 3)
    res = run(["sync", "--dry-run", "--json"], proj, env)
    assert res.returncode == 0, res.stderr
    report = one_json(res.stdout)
    assert report["dry_run"] and report["counts"]["added"] == 3
    assert {i["action"] for i in report["items"]} == {"add"}
    state = proj / ".memsync" / "state"
    assert list(state.iterdir()) == [] and list((proj / ".memsync" / "reports").iterdir()) == []


@pytest.mark.slow
def test_sigkill_mid_sync_loses_nothing_and_duplicates_nothing(
    project: tuple[Path, dict[str, str]],
) -> None:
    proj, env = project
    n = 400
    layout = seed(proj, n)
    proc = subprocess.Popen(
        [*MEMSYNC, "sync"],
        cwd=proj,
        env={**env, "MEMSYNC_BATCH_SIZE": "8"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        journal = layout.journal_path
        if journal.exists() and journal.read_text().count('"indexed"') >= 16:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the sync finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(load_checkpoint(layout.checkpoint_path, layout.journal_path).entries)
    assert 16 <= done_before < n
    res = run(["sync", "--json"], proj, env)
    assert res.returncode == 0, res.stderr
    report = one_json(res.stdout)
    assert report["recovered_interrupted_run"] is True
    assert report["counts"]["added"] == n - done_before  # nothing skipped, nothing redone
    total, ids = point_count(layout)
    assert total == n and len(ids) == n
    final = one_json(run(["sync", "--json"], proj, env).stdout)
    assert final["counts"]["unchanged"] == n and final["counts"]["added"] == 0


@pytest.mark.slow
def test_two_concurrent_syncs_one_waits_out_with_exit_4(
    project: tuple[Path, dict[str, str]],
) -> None:
    proj, env = project
    layout = seed(proj, 30)
    procs = [
        subprocess.Popen(
            [*MEMSYNC, "sync", "--json"],
            cwd=proj,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    codes = sorted(p.wait(timeout=300) for p in procs)
    assert codes == [0, 4]
    assert point_count(layout)[0] == 30
    assert not layout.lock_path.exists()


@pytest.mark.slow
def test_local_mode_store_moves_to_edge_without_reembedding(
    project: tuple[Path, dict[str, str]],
) -> None:
    proj, env = project
    layout = seed(proj, 25)
    local = {**env, "MEMSYNC_QDRANT_MODE": "local"}
    assert run(["sync", "--json"], proj, local).returncode == 0
    assert layout.qdrant_dir.is_dir() and not layout.qdrant_edge_dir.exists()
    question = ["ask", "which build step failed", "--k", "5", "--json"]
    before = one_json(run(question, proj, local).stdout)["results"]
    status = one_json(run(["status", "--json"], proj, env).stdout)
    assert status["index"]["pending_migration"] == "local"
    dry = run(["sync", "--dry-run", "--json"], proj, env)
    assert one_json(dry.stdout)["counts"]["unchanged"] == 25 and "would first move" in dry.stderr
    assert not layout.qdrant_edge_dir.exists()  # the dry run moved nothing
    res = run(["sync", "--json"], proj, env)  # edge is the default: first start migrates
    assert res.returncode == 0, res.stderr
    report = one_json(res.stdout)
    assert report["migration"]["points"] == 25 and report["migration"]["from"] == "local"
    assert report["counts"]["unchanged"] == 25 and report["counts"]["updated"] == 0
    assert "load_encoder" not in report["timings_s"]  # vectors reused, nothing re-embedded
    assert not layout.qdrant_dir.exists() and layout.qdrant_edge_dir.is_dir()
    total, ids = point_count(layout)
    assert total == 25 and len(ids) == 25
    again = run(["index", "migrate", "--json"], proj, env)
    assert one_json(again.stdout)["migrated"] is False
    after = one_json(run(question, proj, env).stdout)["results"]
    assert [(r["id"], round(r["score"], 3)) for r in after] == [
        (r["id"], round(r["score"], 3)) for r in before
    ]


def test_pre_hybrid_collection_is_upgraded_in_place_without_reembedding(
    project: tuple[Path, dict[str, str]],
) -> None:
    import dataclasses

    from sync.index.checkpoint import save_checkpoint

    proj, env = project
    layout = seed(proj, 25)
    assert run(["sync", "--json"], proj, env).returncode == 0
    # rebuild the store as the previous release left it: dense-only points, old collection name
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    new = checkpoint.collection or ""
    old = new.removesuffix("-hybrid")
    index = open_embedded(layout)
    points = [dataclasses.replace(p, sparse=None) for p in index.export(new)]
    index.ensure_collection(old, 384)
    index.upsert(old, points)
    index.drop_collection(new)
    index.close()
    checkpoint.collection = old
    save_checkpoint(checkpoint, layout.checkpoint_path, layout.journal_path)

    dry = run(["sync", "--dry-run", "--json"], proj, env)
    assert one_json(dry.stdout)["counts"]["unchanged"] == 25, dry.stderr
    assert "upgrade the index to hybrid search" in dry.stderr
    res = run(["sync", "--json"], proj, env)
    assert res.returncode == 0, res.stderr
    report = one_json(res.stdout)
    assert report["counts"]["unchanged"] == 25 and "load_encoder" not in report["timings_s"]
    assert "upgraded 25 points to hybrid search" in res.stderr
    index = open_embedded(layout)
    try:
        assert index.collections() == [new]
        assert all(p.sparse for p in index.export(new))  # lexical weights from the files
    finally:
        index.close()
    found = one_json(run(["ask", "build step 17", "--k", "3", "--json"], proj, env).stdout)
    assert found["results"][0]["id"] == "n17" and found["results"][0]["lexical"] > 0


def test_version_and_flag_typos_get_the_subcommand_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from service import __version__
    from service.cli.main import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"memsync {__version__}"
    with pytest.raises(SystemExit) as done:
        main(["sync", "--dryrun"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("usage: memsync sync")
    assert "unrecognized arguments: --dryrun; did you mean --dry-run?" in err
    with pytest.raises(SystemExit) as done:
        main(["skill", "install", "--forse"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("usage: memsync skill install")
    assert "did you mean --force?" in err


def test_a_reader_that_stops_early_is_no_error(project: tuple[Path, dict[str, str]]) -> None:
    """`memsync … | head`: the closed pipe ends the output quietly, with the command's code."""
    proj, env = project
    proc = subprocess.Popen(
        [*MEMSYNC, "status", "--json"],
        cwd=proj,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
