"""The HTTP API (FastAPI). Handlers are thin: they validate, call ``ServiceState``, map errors.

Errors always answer ``{"error": {"type", "message"}}`` with a status code: 400 bad request
(or a Host header that is not this service's), 401 missing or wrong token, 403 a write from
another site's page, 404 unknown memory, report or route, 405 wrong method, 409 store busy,
413 body too large, 422 invalid fields (``details`` lists them), 500 anything else. No request
names a path to write: the service only ever writes inside its store.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import Route

from service import __version__
from service.http.api_commands import add_command_routes
from service.http.docs import add_docs_routes
from service.http.guard import LOOPBACK_HOSTS, Guard
from service.http.mounts import UNAUTHORIZED, Mounted, TokenGate, authorized
from service.http.runtime import NotFoundError, ServiceState
from sync.capture.combined import NOTHING_QUEUED, queued
from sync.errors import LockBusyError, MemsyncError, UsageError
from sync.index.engine import SyncOptions
from sync.ports import SearchFilter

MAX_BODY_BYTES = 1024 * 1024
# the page holds no data: it calls the API, which asks for the token when one is set
DASHBOARD = (resources.files("service.http") / "static" / "index.html").read_text(encoding="utf-8")
KIND_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Short = Annotated[str, Field(min_length=1, max_length=100)]


class SyncRequest(Strict):
    """The CLI's `memsync sync` options; capture runs first unless scope is "memories"."""

    dry_run: bool = False
    force: bool = False
    all_items: bool = Field(False, description="list unchanged items too")
    scope: Literal["all", "sessions", "insights", "campaigns", "memories"] = "all"
    agent: list[Literal["claude", "codex", "cursor", "opencode", "openclaw"]] = Field(
        default_factory=list, description="only these agents (default: all configured)"
    )
    window: str | None = Field(None, pattern=r"^(all|[0-9]{1,5}[dhmw])$")
    since: str | None = Field(None, max_length=40, description="ISO-8601")
    until: str | None = Field(None, max_length=40, description="ISO-8601")
    max_sessions: int | None = Field(None, ge=1, le=1_000_000)
    run_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    no_extract: bool = False
    tags: list[Short] = Field(default_factory=list, max_length=50)
    exclude: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=50
    )
    content_type: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{0,40}$")
    all_projects: bool = Field(False, description="capture every project's sessions this run")
    sessions: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        default_factory=list,
        max_length=20,
        description="capture only these sessions (ids from `memsync sessions`, or transcript "
        "paths), then index",
    )
    wait: bool = Field(
        True, description="false: queue the run and answer 202 at once (one queued run at a time)"
    )


class AskRequest(Strict):
    question: str = Field(min_length=1, max_length=4000)
    k: int = Field(5, ge=1, le=100)
    kinds: list[Annotated[str, Field(pattern=KIND_PATTERN)]] = Field(
        default_factory=list, max_length=20
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20
    )
    include_archived: bool = False
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    answer: bool = Field(True, description="write a cited answer when an LM is configured")
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, description="relevance floor (default: the store's [ask] min_score)"
    )


class AskResult(BaseModel):
    id: str | None
    path: str | None
    file: str
    title: str | None
    kind: str | None
    tags: list[str]
    score: float = Field(description="what orders the list: relevance 0-1 (BM25 in lexical mode)")
    cosine: float | None = Field(None, description="cosine of question and memory")
    lexical: float | None = Field(None, description="BM25 term-match score")
    snippet: str = Field(description="the matching lines, one per line, with their heading")
    updated: str | None


class AskScoring(BaseModel):
    mode: str
    score: Literal["relevance", "bm25"]
    min_score: float | None = None


class Closest(BaseModel):
    id: str | None
    path: str | None
    title: str | None
    kind: str | None
    score: float


class Citation(BaseModel):
    n: int
    id: str | None
    path: str | None
    title: str | None


class Answer(BaseModel):
    answer: str | None = None
    citations: list[Citation] = Field(default_factory=list)
    model: str | None = None
    error: str | None = None


class AskResponse(BaseModel):
    question: str
    results: list[AskResult]
    scoring: AskScoring | None = None
    withheld: int = Field(0, description="results under the relevance floor, not returned")
    closest: Closest | None = Field(None, description="the best withheld result")
    no_strong_match: bool = Field(False, description="nothing reached the floor")
    answer: Answer | None = None


class AddRequest(Strict):
    kind: str = Field(pattern=KIND_PATTERN)
    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=200_000)
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    confidence: float = Field(0.7, ge=0.0, le=1.0)
    dry_run: bool = False
    session: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="distilled from this session (an id from `memsync sessions`, or a path)",
    )


class RetryRequest(Strict):
    drop: list[str] | None = Field(
        None, description="forget these queued paths; an empty list drops every dead letter"
    )


def create_app(
    state: ServiceState,
    token: str | None = None,
    max_body: int = MAX_BODY_BYTES,
    *,
    instance: str | None = None,
    allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
    mounts: Sequence[Mounted] = (),
) -> FastAPI:
    """The API over ``state``. ``token``: required as ``Bearer`` on /api, /docs,
    /openapi.json and the ``mounts`` (the MCP endpoint, served beside the API); ``instance``:
    the id /healthz proves the service by (service.json); ``allowed_hosts``: the Host header
    names answered (DNS rebinding gets 400)."""
    hidden = token is not None  # the API's description is behind the token as well

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for mounted in mounts:
                await stack.enter_async_context(mounted.lifespan())
            yield

    app = FastAPI(
        title="memsync",
        version=__version__,
        description="Long-term memory for coding agents: sync, ask, add.",
        docs_url=None,  # served below from packaged assets: no CDN, works offline
        redoc_url=None,
        openapi_url=None if hidden else "/openapi.json",
        lifespan=lifespan,
    )
    for mounted in mounts:
        methods = ["GET", "POST", "DELETE"]
        app.router.routes.append(
            Route(mounted.path, TokenGate(mounted.app, token), methods=methods)
        )
    _errors(app)
    app.add_middleware(Guard, max_body=max_body, hosts=allowed_hosts)
    auth = [Depends(_bearer(token))]
    add_docs_routes(app, auth if hidden else None)
    add_command_routes(app, state, auth)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> str:
        return DASHBOARD

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "instance": instance} if instance else {"status": "ok"}

    @app.post("/api/sync", dependencies=auth)
    def sync(req: SyncRequest, response: Response) -> dict[str, Any]:
        opts = SyncOptions(
            dry_run=req.dry_run, force=req.force, list_unchanged=req.all_items, run_id=req.run_id
        )
        capture = req.model_dump(exclude={"all_items", "run_id", "wait"})
        if req.wait:
            return state.sync(opts, capture)
        if req.dry_run:
            raise UsageError("a dry run answers with its report: it cannot be queued (wait=true)")
        response.status_code = 202
        return state.queue_sync(opts, capture)

    @app.post("/api/ask", dependencies=auth, response_model=AskResponse)
    def ask(req: AskRequest) -> dict[str, Any]:
        flt = SearchFilter(tuple(req.kinds), tuple(req.tags), req.include_archived)
        found = state.ask(req.question, req.k, flt, mode=req.mode, min_score=req.min_score)
        answer = state.answer(req.question, found["results"]) if req.answer else None
        return {"question": req.question, **found, "answer": answer}

    @app.post("/api/memories", dependencies=auth)
    def add(req: AddRequest) -> dict[str, Any]:
        tags = tuple(dict.fromkeys(t.strip() for t in req.tags if t.strip()))
        return state.add(
            kind=req.kind,
            title=req.title,
            body=req.body,
            tags=tags,
            confidence=req.confidence,
            dry_run=req.dry_run,
            session=req.session,
        )

    @app.get("/api/memories", dependencies=auth)
    def list_memories(
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
        tag: Annotated[str | None, Query(max_length=100)] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        sort: Annotated[
            Literal["path", "recent"],
            Query(description="recent: newest first, with dates (archived ones left out)"),
        ] = "path",
    ) -> dict[str, Any]:
        return state.list_memories(kind=kind, tag=tag, offset=offset, limit=limit, sort=sort)

    @app.get("/api/memories/{memory_id:path}", dependencies=auth)
    def get_memory(memory_id: str) -> dict[str, Any]:
        return state.get_memory(memory_id)

    @app.get("/api/status", dependencies=auth)
    def status() -> dict[str, Any]:
        return state.status()

    @app.post("/api/retry", dependencies=auth)
    def retry(req: RetryRequest) -> dict[str, Any]:
        if req.drop is not None:
            return {"dropped": state.drop(req.drop)}
        if not queued(state.layout):
            return dict(NOTHING_QUEUED)  # nothing waits: no sync is run
        return state.sync(SyncOptions(retry_now=True), {"retry_now": True})

    @app.get("/api/reports", dependencies=auth)
    def reports(
        offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=200)] = 20
    ) -> dict[str, Any]:
        return state.reports(offset, limit)

    @app.get("/api/reports/{run_id}", dependencies=auth)
    def report(run_id: str) -> dict[str, Any]:
        return state.report(run_id)

    return app


def _bearer(token: str | None) -> Callable[..., None]:
    """``Authorization: Bearer <token>`` exactly (scheme required), compared in constant time."""

    def check(authorization: Annotated[str | None, Header()] = None) -> None:
        if not authorized(authorization, token):
            raise _Unauthorized()

    return check


class _Unauthorized(MemsyncError):
    """Missing or wrong bearer token."""


def _errors(app: FastAPI) -> None:
    codes: list[tuple[type[Exception], int]] = [
        (_Unauthorized, 401),
        (NotFoundError, 404),
        (UsageError, 400),
        (LockBusyError, 409),
        (MemsyncError, 500),
        (Exception, 500),
    ]
    for exc_type, code in codes:
        app.add_exception_handler(exc_type, _handler(code))
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """422 with the documented body; ``details`` says which field and why."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    details = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
        for e in errors
    ]
    first = details[0] if details else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return JSONResponse(
        {"error": {"type": "ValidationError", "message": message, "details": details}},
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Unknown routes (404), wrong methods (405) and the like, in the documented body."""
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    kinds = {404: "NotFound", 405: "MethodNotAllowed"}
    message = str(getattr(exc, "detail", "")) or "error"
    if code == 404:
        path = request.url.path[:200].encode("utf-8", "backslashreplace").decode("utf-8")
        message = f"no such route: {request.method} {path}"
    headers = getattr(exc, "headers", None)
    return JSONResponse(
        {"error": {"type": kinds.get(code, "HTTPError"), "message": message}},
        status_code=code,
        headers=headers,
    )


def _handler(code: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        message = str(exc) if isinstance(exc, MemsyncError) else f"internal error: {exc}"
        if code == 401:
            message = UNAUTHORIZED
        return JSONResponse(
            {"error": {"type": type(exc).__name__, "message": message}}, status_code=code
        )

    return handle
