"""The HTTP service: real model, real edge index, FastAPI's test client; and a real
`memsync serve` process that the CLI finds and talks to."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.http.api import create_app
from service.http.runtime import ServiceState
from service.settings import Settings
from sync.store import StoreLayout
from tests.conftest import (
    ENCODE,
    MEMSYNC,
    NEVER,
    imported,
    memory_text,
    one_json,
    run,
    seed,
    write_memory_file,
)
from tests.test_sync_integration import tree_digest

TOKEN = "s3cret-token"
BASE = "http://127.0.0.1:8765"  # the Host header the service answers to


@pytest.fixture
def state(layout: StoreLayout, encoder) -> Iterator[ServiceState]:  # type: ignore[no-untyped-def]
    write_memory_file(
        layout,
        "decisions/db.md",
        memory_text(
            "Use PostgreSQL for the job queue",
            "SKIP LOCKED gives a transactional queue.",
            mid="m-db",
            tags="[db, queue]",
        ),
    )
    write_memory_file(
        layout,
        "learnings/tests.md",
        memory_text(
            "Flaky tests came from shared temp dirs",
            "Use pytest's tmp_path fixture.",
            mid="m-tests",
            kind="learning",
            tags="[tests]",
        ),
    )
    st = ServiceState(layout, Settings(), encoder=encoder)
    st.open()
    yield st
    st.close()


@pytest.fixture
def client(state: ServiceState) -> TestClient:
    return TestClient(create_app(state, token=None), base_url=BASE, raise_server_exceptions=False)


def test_sync_ask_add_list_get_and_reports(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    report = client.post("/api/sync", json={}).json()
    assert report["counts"]["added"] == 2
    ask = client.post("/api/ask", json={"question": "which database for jobs?", "k": 1}).json()
    assert [r["id"] for r in ask["results"]] == ["m-db"]
    assert ask["results"][0]["path"] == "decisions/db.md" and ask["results"][0]["snippet"]
    added = client.post(
        "/api/memories",
        json={
            "kind": "learning",
            "title": "Pin ruff in CI",
            "body": "Unpinned ruff broke lint.",
            "tags": ["ci"],
        },
    ).json()
    assert added["action"] == "add" and added["sync"]["counts"]["added"] == 1
    dup = client.post(
        "/api/memories",
        json={"kind": "learning", "title": "pin ruff in CI!", "body": "unpinned ruff broke lint"},
    ).json()
    assert dup["action"] == "noop" and dup["id"] == added["id"]
    listing = client.get("/api/memories", params={"kind": "learning"}).json()
    assert listing["total"] == 2 and {m["kind"] for m in listing["memories"]} == {"learning"}
    tagged = client.get("/api/memories", params={"tag": "ci", "limit": 1}).json()
    assert [m["id"] for m in tagged["memories"]] == [added["id"]]
    page = client.get("/api/memories", params={"offset": 1, "limit": 1}).json()
    assert page["total"] == 3 and len(page["memories"]) == 1
    memory = client.get("/api/memories/m-db").json()
    assert memory["title"] == "Use PostgreSQL for the job queue" and memory["tags"] == [
        "db",
        "queue",
    ]
    assert client.get("/api/memories/nope").status_code == 404
    reports = client.get("/api/reports").json()
    assert reports["total"] >= 2
    one = client.get(f"/api/reports/{reports['reports'][0]['run_id']}").json()
    assert one["kind"] == "sync"
    status = client.get("/api/status").json()
    assert status["indexed"] == 3 and status["index"]["backend"] == "edge"


def test_errors_are_json_with_proper_codes(client: TestClient, state: ServiceState) -> None:
    bad = client.post("/api/ask", json={"question": "", "k": 0})
    assert bad.status_code == 422
    assert client.post("/api/sync", json={"unknown": 1}).status_code == 422
    assert (
        client.post(
            "/api/memories", json={"kind": "Bad Kind", "title": "t", "body": "b"}
        ).status_code
        == 422
    )
    for hostile in ("..%2F..%2Fetc%2Fpasswd", "../state", "zzzzzzzz"):
        res = client.get(f"/api/reports/{hostile}")
        assert res.status_code == 404, hostile
    huge = client.post(
        "/api/memories",
        content=b"x" * (2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and huge.json()["error"]["type"] == "BodyTooLarge"
    missing = client.post("/api/retry", json={"drop": ["decisions/not-queued.md"]})
    assert (
        missing.status_code == 400
        and "not in the retry queue" in missing.json()["error"]["message"]
    )


def test_token_is_required_when_configured(state: ServiceState) -> None:
    guarded = TestClient(
        create_app(state, token=TOKEN), base_url=BASE, raise_server_exceptions=False
    )
    assert guarded.get("/healthz").status_code == 200
    assert guarded.get("/api/status").status_code == 401
    wrong = guarded.get("/api/status", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "Bearer" in wrong.json()["error"]["message"]
    ok = guarded.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_service_dry_run_writes_nothing(client: TestClient, layout: StoreLayout) -> None:
    client.post("/api/sync", json={})
    write_memory_file(layout, "decisions/new.md", memory_text("New", "Something new.", mid="n"))
    before = tree_digest(layout.memory_dir), tree_digest(layout.state_dir)
    report = client.post("/api/sync", json={"dry_run": True}).json()
    assert report["dry_run"] and report["counts"]["added"] == 1
    assert (tree_digest(layout.memory_dir), tree_digest(layout.state_dir)) == before


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/sync",
        "/api/ask",
        "/api/memories",
        "/api/memories/{memory_id}",
        "/api/status",
        "/api/retry",
        "/api/reports",
        "/api/reports/{run_id}",
        "/api/audit",
        "/api/maintain",
        "/api/restore",
        "/api/compare",
        "/api/backfill",
        "/api/sources",
        "/healthz",
    ):
        assert path in paths, path


def test_serving_beyond_loopback_without_a_token_is_refused(
    project: tuple[Path, dict[str, str]],
) -> None:
    proj, env = project
    res = run(["serve", "--host", "0.0.0.0", "--port", "0"], proj, env)
    assert res.returncode == 2 and "MEMSYNC_API_TOKEN" in res.stderr


@pytest.mark.slow
def test_cli_goes_through_a_running_service(project: tuple[Path, dict[str, str]]) -> None:
    proj, env = project
    layout = seed(proj, 5)
    server = subprocess.Popen(
        [*MEMSYNC, "serve", "--port", "0", "--sync-every", "0"],
        cwd=proj,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    info_path = layout.root / "service.json"
    try:
        deadline = time.monotonic() + 120
        while not info_path.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        assert info_path.exists(), server.stderr.read() if server.stderr else ""
        assert json.loads(info_path.read_text())["url"].startswith("http://127.0.0.1:")
        synced = run(["sync", "--json"], proj, env)
        assert synced.returncode == 0, synced.stderr
        assert one_json(synced.stdout)["counts"]["added"] == 5
        status = one_json(run(["status", "--json"], proj, env).stdout)
        assert "service" in status and status["indexed"] == 5  # answered by the service
        names, out = imported(["ask", "build step failed", "--json"], proj, env)
        assert len(one_json(out)["results"]) == 5
        assert not names & (NEVER | ENCODE), sorted(names & (NEVER | ENCODE))  # client only
        second = subprocess.run(
            [*MEMSYNC, "serve", "--port", "0"],
            cwd=proj,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 4  # one service per store
        info = json.loads(info_path.read_text())
        assert info["store"] == str(layout.root.resolve()) and len(info["instance"]) == 32
        assert info_path.stat().st_mode & 0o077 == 0  # this user's only
        # the same file copied into another project's store does not send it there
        other = proj.parent / "other"
        other.mkdir()
        assert run(["init"], other, env).returncode == 0
        (other / ".memsync" / "service.json").write_text(json.dumps(info))
        elsewhere = run(["status", "--json"], other, env)
        assert "service" not in one_json(elsewhere.stdout)
        assert "names another store" in elsewhere.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert not info_path.exists() and not layout.lock_path.exists()
    after = one_json(run(["status", "--json"], proj, env).stdout)
    assert "service" not in after and after["indexed"] == 5  # back to in-process
    assert os.path.exists(layout.qdrant_edge_dir)


def test_background_sync_picks_up_new_files(state: ServiceState, layout: StoreLayout) -> None:
    state.start_background_sync(0.2)
    write_memory_file(
        layout,
        "insights/late.md",
        memory_text(
            "Deploys on Friday fail more",
            "Mostly migrations locking tables.",
            mid="late",
            kind="insight",
        ),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = state.list_memories(kind="insight", tag=None, offset=0, limit=5)["total"]
        # the journal makes the memory visible a moment before the run returns its report
        if listed == 1 and state.last_background is not None:
            break
        time.sleep(0.1)
    assert state.list_memories(kind="insight", tag=None, offset=0, limit=5)["total"] == 1
    assert state.last_background is not None


def test_asks_are_answered_while_a_sync_writes(state: ServiceState, layout: StoreLayout) -> None:
    import threading

    from sync.index.engine import SyncOptions
    from sync.ports import SearchFilter

    state.sync(SyncOptions())
    for i in range(60):
        write_memory_file(
            layout,
            f"learnings/bulk-{i:03d}.md",
            memory_text(
                f"Bulk learning {i}",
                f"Detail number {i} about the release train.",
                mid=f"b{i}",
                kind="learning",
            ),
        )
    reports: list[dict] = []  # type: ignore[type-arg]
    writer = threading.Thread(target=lambda: reports.append(state.sync(SyncOptions())))
    writer.start()
    answered = 0
    while writer.is_alive():
        results = state.ask("which database runs the job queue", 3, SearchFilter())["results"]
        assert results and results[0]["id"] == "m-db"
        answered += 1
    writer.join()
    assert reports[0]["counts"]["added"] == 60 and reports[0]["counts"]["failed"] == 0
    assert answered > 1  # asks kept being answered during the write


def test_skills_install_and_respect_hand_edits(tmp_path: Path) -> None:
    import yaml

    from service.agents.skills import SKILLS, install_skills, skill_text
    from sync.errors import UsageError

    for name in SKILLS:
        text = skill_text(name)
        front = yaml.safe_load(text.split("---")[1])
        assert front["name"] == name and len(front["description"]) > 50
    first = install_skills(tmp_path)
    assert [d["state"] for d in first] == ["installed", "installed"]
    assert [d["state"] for d in install_skills(tmp_path)] == ["unchanged", "unchanged"]
    edited = tmp_path / "sync-memory" / "SKILL.md"
    edited.write_text(edited.read_text() + "\nmy note\n")
    with pytest.raises(UsageError, match="--force"):
        install_skills(tmp_path)
    assert "my note" in edited.read_text()
    install_skills(tmp_path, force=True)
    assert "my note" not in edited.read_text()


def test_skill_flags_exist_in_the_cli() -> None:
    """The skills must only tell agents to use options memsync really has."""
    import re
    import shlex

    from service.agents.skills import SKILLS, skill_text
    from service.cli.main import build_parser

    parser = build_parser()
    checked = 0
    for name in SKILLS:
        for command in re.findall(r"`(memsync [^`]+)`", skill_text(name)):
            argv = [a.split("|")[0] for a in shlex.split(command)[1:]]
            argv = ["x" if a.startswith("<") else a for a in argv]
            parser.parse_args(argv)  # exits (fails the test) on an unknown option
            checked += 1
    assert checked >= 8


def test_service_socket_sends_without_nagle_delay() -> None:
    """Without TCP_NODELAY every kept-alive response waited ~40 ms for a delayed ACK."""
    import socket

    from service.http.server import listen

    server = listen("127.0.0.1", 0, socket.AF_INET)
    try:
        assert server.proto == socket.IPPROTO_TCP  # asyncio sets NODELAY only then
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        accepted.close()
        client.close()
    finally:
        server.close()


def test_blank_questions_and_memories_are_bad_requests(client: TestClient) -> None:
    """Found by the schemathesis run: whitespace-only input used to be a 500."""
    assert client.post("/api/ask", json={"question": "  "}).status_code == 400
    blank = client.post("/api/memories", json={"kind": "decision", "title": " ", "body": "b"})
    assert blank.status_code == 400 and "blank" in blank.json()["error"]["message"]


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@contextlib.contextmanager
def dashboard(app: Any, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The app served by uvicorn on a free loopback port, and a headless Chromium for it."""
    import socket
    import threading

    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from service.http.server import listen

    sock = listen("127.0.0.1", 0, socket.AF_INET)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield driver, url
    finally:
        driver.quit()
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (scripts/install.sh "
    "installs them when it runs as root)",
)
def test_dashboard_searches_in_headless_chromium(state: ServiceState, tmp_path: Path) -> None:

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from sync.index.engine import SyncOptions

    state.sync(SyncOptions())
    with dashboard(create_app(state), tmp_path) as (driver, url):
        driver.get(url)
        wait = WebDriverWait(driver, 30)
        wait.until(
            lambda d: "Use PostgreSQL for the job queue" in d.find_element(By.ID, "memories").text
        )
        wait.until(lambda d: "run " in d.find_element(By.ID, "runs").text)
        assert "Nothing waiting" in driver.find_element(By.ID, "queue").text
        driver.find_element(By.ID, "question").send_keys("which database runs the job queue?")
        driver.find_element(By.ID, "ask-button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results li.result"))
        first = driver.find_elements(By.CSS_SELECTOR, "#results li.result")[0].text
        assert "Use PostgreSQL for the job queue" in first and "decision" in first
        driver.save_screenshot(str(tmp_path / "dashboard.png"))


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (scripts/install.sh "
    "installs them when it runs as root)",
)
def test_dashboard_memory_detail_in_headless_chromium(
    state: ServiceState, layout: StoreLayout, tmp_path: Path
) -> None:
    """Memories open whole (from the list, a result, a URL), hostile text stays text, runs
    show their report; behind a token the page asks for it once."""

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from sync.index.engine import SyncOptions

    hostile = "Payload <img src=x onerror=alert(1)> stays text."
    write_memory_file(
        layout,
        "insights/hostile.md",
        "---\nid: m-hostile\nkind: insight\ntitle: Hostile <b>markup</b> title\n"
        "tags: [security]\nsource: {agent: claude-code, session: s-42, file: t.jsonl}\n"
        f"---\n\n{hostile}\n",
    )
    write_memory_file(layout, "decisions/broken.md", "---\ntitle: [unclosed\n---\nx\n")
    state.sync(SyncOptions())
    app = create_app(state, token=TOKEN)

    def detail() -> str:
        panel = driver.find_element(By.ID, "detail")
        return panel.text if panel.is_displayed() else ""

    with dashboard(app, tmp_path) as (driver, url):
        driver.get(url)
        wait = WebDriverWait(driver, 30)
        prompt = wait.until(ec.alert_is_present())
        prompt.send_keys(TOKEN)
        prompt.accept()  # one prompt: the page's parallel calls reuse the token
        memories = driver.find_element(By.ID, "memories")
        wait.until(lambda d: "Use PostgreSQL for the job queue" in memories.text)
        memories.find_element(By.LINK_TEXT, "Flaky tests came from shared temp dirs").click()
        wait.until(lambda d: "Use pytest's tmp_path fixture." in detail())
        text = detail()
        assert "memory/learnings/tests.md" in text and "m-tests" in text and "learning" in text
        assert driver.current_url.endswith("#memory/m-tests")
        assert not memories.is_displayed()
        driver.find_element(By.ID, "detail-close").click()
        wait.until(lambda d: memories.is_displayed() and not detail())
        driver.back()  # history: back reopens the memory, forward returns to the list
        wait.until(lambda d: "Use pytest's tmp_path fixture." in detail())
        driver.forward()
        wait.until(lambda d: memories.is_displayed() and not detail())

        driver.find_element(By.ID, "question").send_keys("which database runs the job queue?")
        driver.find_element(By.ID, "ask-button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results li.result a"))
        first = driver.find_elements(By.CSS_SELECTOR, "#results li.result a")[0]
        assert first.text == "Use PostgreSQL for the job queue"
        first.click()
        wait.until(lambda d: "SKIP LOCKED gives a transactional queue." in detail())
        assert "memory/decisions/db.md" in detail() and "db, queue" in detail()

        driver.get("about:blank")
        driver.get(url + "#memory/m-hostile")  # a fresh load opens the detail directly
        wait.until(lambda d: hostile in detail())
        title = driver.find_element(By.CSS_SELECTOR, "#detail .detail-title").text
        assert title == "Hostile <b>markup</b> title"
        assert "claude-code" in detail() and "s-42" in detail()
        assert driver.find_element(By.CSS_SELECTOR, "#detail pre").text == hostile
        assert not driver.find_elements(By.CSS_SELECTOR, "img, #detail b")
        assert driver.title.startswith("Hostile <b>markup</b> title")

        driver.get(url + "#memory/gone")
        wait.until(lambda d: d.find_element(By.ID, "detail-error").text)
        assert "Not found" in driver.find_element(By.ID, "detail-error").text

        driver.get(url)
        runs = driver.find_element(By.ID, "runs")
        wait.until(lambda d: runs.find_elements(By.TAG_NAME, "a"))
        runs.find_elements(By.TAG_NAME, "a")[0].click()
        wait.until(lambda d: "Failures (1)" in detail())
        failure = driver.find_element(By.CSS_SELECTOR, "#detail ul.failures li").text
        assert "memory/decisions/broken.md: invalid YAML frontmatter" in failure
        assert "reason: cannot be read" in failure and "fix: fix the file" in failure
        assert "Retry queue" in detail()
        driver.save_screenshot(str(tmp_path / "detail.png"))


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (scripts/install.sh "
    "installs them when it runs as root)",
)
def test_dashboard_run_report_lists_captured_sessions_in_headless_chromium(
    layout: StoreLayout,
    encoder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """A run's report shows each captured session with the memories it produced (linked);
    the kind filter offers the whole vocabulary; /docs renders offline; no favicon 404."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from sync.index.engine import SyncOptions

    sessions = tmp_path / "claude"
    shutil.copytree(Path(__file__).parent / "fixtures" / "capture" / "claude", sessions)
    settings = Settings(
        sources_agents=("claude",),
        sources_claude=(str(sessions),),
        sources_window="all",
        sources_projects="all",  # the fixture sessions ran in other folders
    )
    st = ServiceState(layout, settings, encoder=encoder)
    st.open()
    try:
        report = st.sync(SyncOptions(), {})
        captured = [i for i in report["capture"]["items"] if i["candidates"]]
        assert len(captured) == 2
        title = next(c["title"] for c in captured[0]["candidates"] if c["verdict"] == "add")
        app = create_app(st)
        plain = TestClient(app, base_url=BASE)
        icon = plain.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
        docs = plain.get("/docs").text
        assert "/static/docs/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
        assert plain.get("/static/docs/swagger-ui-bundle.js").status_code == 200
        with dashboard(app, tmp_path) as (driver, url):
            wait = WebDriverWait(driver, 30)
            driver.get(url)
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#kind option")) > 1)
            kinds = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#kind option")]
            assert {"decision", "learning", "convention", "summary", "daily"} <= set(kinds)
            memories = driver.find_element(By.ID, "memories")
            wait.until(lambda d: "memory/" in memories.text)
            assert "·  ·" not in memories.text and "· ·" not in memories.text
            driver.get(url + "#run/" + report["run_id"])
            panel = driver.find_element(By.ID, "detail")
            wait.until(lambda d: "Captured sessions (2)" in panel.text)
            assert captured[0]["session"] in panel.text and title in panel.text
            driver.save_screenshot(str(tmp_path / "run.png"))
            panel.find_element(By.LINK_TEXT, title).click()
            wait.until(lambda d: d.current_url.split("#")[-1].startswith("memory/"))
            wait.until(lambda d: "Provenance" in panel.text and title in panel.text)
            assert "claude" in panel.text
            driver.get(url + "docs")
            wait.until(lambda d: "/api/ask" in d.find_element(By.TAG_NAME, "body").text)
            logs = [entry["message"] for entry in driver.get_log("browser")]
            assert not [m for m in logs if "favicon" in m or "404" in m], logs
    finally:
        st.close()


def test_ask_answers_with_citations_when_an_lm_is_configured(layout: StoreLayout, encoder) -> None:  # type: ignore[no-untyped-def]
    from dspy.utils import DummyLM

    write_memory_file(
        layout,
        "decisions/db.md",
        memory_text("Use PostgreSQL for the job queue", "SKIP LOCKED.", mid="m-db"),
    )
    st = ServiceState(layout, Settings(llm_model="openai/test-model"), encoder=encoder)
    st.open()
    try:
        st._lm = DummyLM(
            [{"reasoning": "r", "answer": "PostgreSQL, with SKIP LOCKED [1].", "citations": [1]}]
        )
        client = TestClient(
            create_app(st, token=None), base_url=BASE, raise_server_exceptions=False
        )
        synced = client.post("/api/sync", json={"scope": "memories"}).json()
        assert synced.get("counts", {}).get("added") == 1, synced
        out = client.post("/api/ask", json={"question": "which queue database?", "k": 1}).json()
        assert out["answer"]["answer"] == "PostgreSQL, with SKIP LOCKED [1]."
        assert out["answer"]["citations"][0]["id"] == "m-db"
        assert out["answer"]["citations"][0]["path"] == "decisions/db.md"
        plain = client.post(
            "/api/ask", json={"question": "which queue database?", "answer": False}
        ).json()
        assert plain["answer"] is None and plain["results"][0]["id"] == "m-db"
    finally:
        st.close()


def test_add_through_the_api_records_the_session_it_was_distilled_from(
    client: TestClient, layout: StoreLayout
) -> None:
    """`memsync add --session` through a running service: provenance and the session's date."""
    fixtures = Path(__file__).parent / "fixtures" / "sources" / "claude" / "projects"
    session = fixtures / "-home-dev-demo" / "5f1c2d3e-0000-4000-8000-000000000001.jsonl"
    res = client.post(
        "/api/memories",
        json={
            "kind": "learning",
            "title": "The fetch client retries on 503",
            "body": "Three tries with backoff; a 503 from the API is transient.",
            "session": str(session),
        },
    )
    assert res.status_code == 200, res.text
    added = res.json()
    assert added["action"] == "add" and added["path"].startswith("learnings/20251102-")
    memory = (layout.memory_dir / added["path"]).read_text(encoding="utf-8")
    assert "session: 5f1c2d3e-0000-4000-8000-000000000001" in memory and "via: api" in memory
    assert "created: '2025-11-02T10:00:00Z'" in memory and "captured: '" in memory
    unknown = client.post(
        "/api/memories",
        json={"kind": "learning", "title": "t", "body": "b", "session": "no-such-session"},
    )
    assert unknown.status_code == 400 and "no session" in unknown.json()["error"]["message"]
