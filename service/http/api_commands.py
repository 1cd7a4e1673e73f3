"""Endpoints for the commands the CLI sends to a running service (audit, maintain, restore,
compare, backfill, sources): each answers what the command prints with --json."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from service.http import commands
from service.http.runtime import ServiceState

TZ = Annotated[str | None, Field(None, max_length=64, description="IANA time zone of the days")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuditRequest(Strict):
    fix: bool = Field(False, description="repair index drift (a job under the write lock)")
    near_threshold: float | None = Field(None, gt=0.0, le=1.0)


class MaintainRequest(Strict):
    dry_run: bool = False
    undo: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class RestoreRequest(Strict):
    memory_id: str = Field(min_length=1, max_length=200)


class ArchiveRequest(Strict):
    memory_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500, description="why: kept with the memory")


class BackfillRequest(Strict):
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    all: bool = False
    dry_run: bool = False
    force: bool = False
    preserve: bool = False
    summarize: bool = False
    tz: TZ = None


def add_command_routes(app: FastAPI, state: ServiceState, auth: list[Any]) -> None:
    """The command endpoints, behind the same token as the rest of the API."""

    @app.post("/api/audit", dependencies=auth)
    def audit(req: AuditRequest) -> dict[str, Any]:
        """`memsync audit [--fix]`: the health report (exit 5 in the CLI when it fails)."""
        return commands.run_audit(state, fix=req.fix, near=req.near_threshold)

    @app.post("/api/maintain", dependencies=auth)
    def maintain(req: MaintainRequest) -> dict[str, Any]:
        """`memsync maintain [--dry-run] [--undo RUN_ID]`."""
        return commands.run_maintain(state, dry_run=req.dry_run, undo=req.undo)

    @app.post("/api/restore", dependencies=auth)
    def restore(req: RestoreRequest) -> dict[str, Any]:
        """`memsync restore ID`: an archived memory back where it was."""
        return commands.run_restore(state, req.memory_id)

    @app.post("/api/archive", dependencies=auth)
    def archive(req: ArchiveRequest) -> dict[str, Any]:
        """`memsync archive ID --reason TEXT`: out of the default search; never deleted."""
        return commands.run_archive(state, req.memory_id, req.reason)

    @app.get("/api/compare", dependencies=auth)
    def compare(tz: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
        """`memsync compare`: days whose daily log is missing, stale or ok."""
        return commands.run_compare(state, tz)

    @app.post("/api/backfill", dependencies=auth)
    def backfill(req: BackfillRequest) -> dict[str, Any]:
        """`memsync backfill`: write daily logs (a dry run writes nothing)."""
        return commands.run_backfill(state, req.model_dump())

    @app.get("/api/sources", dependencies=auth)
    def sources() -> dict[str, Any]:
        """`memsync sources`: detected agents, their folders and sessions; knowledge files."""
        return commands.run_sources(state)
