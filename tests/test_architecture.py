"""The architecture as a test: import-linter's contracts (pyproject.toml), small modules, a
small kernel, a docstring on every package, and heavy libraries imported only lazily."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("sync", "embeddings", "service")
MAX_MODULE_LINES = 420  # "about 400": a little slack, never a second module's worth
MAX_KERNEL_MODULES = 12


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def test_import_contracts_hold() -> None:
    """Layers service -> embeddings -> sync; capture/recall/care independent; no cycles."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


def test_modules_stay_small() -> None:
    big = {
        str(p.relative_to(REPO)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not big, f"split these modules: {big}"


def test_kernel_is_small() -> None:
    top = sorted(p.name for p in (REPO / "sync").glob("*.py") if p.name != "__init__.py")
    assert len(top) <= MAX_KERNEL_MODULES, top


def test_every_package_says_what_it_owns() -> None:
    for init in (p for pkg in PACKAGES for p in (REPO / pkg).rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and doc.strip(), f"{init.relative_to(REPO)} needs a one-line docstring"


@pytest.mark.parametrize(
    "module",
    [
        "sync.llm",
        "sync.recall.answer",
        "sync.capture.extraction.dspy_extract",
        "sync.capture.extraction.dspy_merge",
        "sync.capture.pipeline",
        "sync.care.maintain_run",
        "embeddings.encoder",
        "embeddings.backend",
        "embeddings.onnx_encoder",
        "embeddings.onnx_export",
        "embeddings.edge_index",
        "embeddings.qdrant_index",
    ],
)
def test_heavy_libraries_load_lazily(module: str) -> None:
    """Importing a module never imports dspy, torch, sentence-transformers or an encoder
    runtime by itself."""
    code = (
        f"import sys, {module}\n"
        "heavy = [m for m in ('dspy', 'litellm', 'torch', 'sentence_transformers', "
        "'onnxruntime', 'onnx') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"{module} imports {done.stdout.strip()} at import time"
