"""Answer a question from retrieved memories with a DSPy LM, citing them by number.

Independent of the index: ``hits`` are plain dicts (id, path, title, snippet, score) as
retrieval returns them. The model only sees the numbered list; the numbers it cites are
mapped back to hits here, and numbers outside the list are dropped. DSPy is imported
lazily.
"""

import functools
from collections.abc import Sequence
from typing import Any

from sync.errors import PermanentError, UsageError
from sync.llm import lm_failure, model_name

DONT_KNOW = "I don't know from memory."
SNIPPET_CHARS = 500


def format_memories(hits: Sequence[dict[str, Any]]) -> str:
    """The numbered list the model reads: ``[n] title (path): snippet``."""
    lines = []
    for n, hit in enumerate(hits, 1):
        snippet = " ".join(str(hit.get("snippet") or "").split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[: SNIPPET_CHARS - 1] + "…"
        lines.append(f"[{n}] {hit.get('title') or '(untitled)'} ({hit.get('path', '')}): {snippet}")
    return "\n".join(lines)


def map_citations(numbers: Sequence[object], hits: Sequence[dict[str, Any]]) -> list[dict]:
    """Cited numbers as hit references, in citation order, once each; out of range dropped."""
    cited: list[dict] = []
    seen: set[int] = set()
    for raw in numbers:
        try:
            n = int(str(raw).strip().strip("[]"))
        except ValueError:
            continue
        if 1 <= n <= len(hits) and n not in seen:
            seen.add(n)
            hit = hits[n - 1]
            cited.append(
                {"n": n, "id": hit.get("id"), "path": hit.get("path"), "title": hit.get("title")}
            )
    return cited


@functools.cache
def answer_signature() -> Any:
    """The AnswerWithCitations signature, built on first use (imports dspy)."""
    import dspy

    class AnswerWithCitations(dspy.Signature):
        """Answer the question using only the numbered memories, citing the ones you used.

        Be short: one to three sentences. Cite memories by their numbers. Do not use outside
        knowledge. If no memory answers the question, cite nothing and answer exactly:
        "I don't know from memory."
        """

        question: str = dspy.InputField()
        memories: str = dspy.InputField(desc="numbered memories: [n] title (path): snippet")
        answer: str = dspy.OutputField(desc="a short answer drawn from the memories")
        citations: list[int] = dspy.OutputField(desc="numbers of the memories the answer uses")

    return AnswerWithCitations


def answer_question(
    question: str, hits: list[dict[str, Any]], lm: Any, *, adapter: Any = None
) -> dict[str, Any]:
    """``{"answer", "citations": [{"n", "id", "path", "title"}], "model"}`` for ``question``.

    With no hits the model is not called. LM failures raise RetryableError, PermanentError
    (including unparsable output) or ConfigError, with one clear line.
    """
    if not question.strip():
        raise UsageError("the question is empty")
    model = model_name(lm)
    if not hits:
        return {"answer": DONT_KNOW, "citations": [], "model": model}
    import dspy
    from dspy.utils.exceptions import DSPyError

    overrides: dict[str, Any] = {"lm": lm}
    if adapter is not None:
        overrides["adapter"] = adapter
    try:
        with dspy.context(**overrides):
            pred = dspy.ChainOfThought(answer_signature())(
                question=question.strip(), memories=format_memories(hits)
            )
    except DSPyError as exc:
        raise lm_failure(exc, "answering from memory") from None
    answer = " ".join(str(pred.answer or "").split())
    if not answer:
        raise PermanentError("answering from memory: the model returned an empty answer")
    return {
        "answer": answer,
        "citations": map_citations(pred.citations or [], hits),
        "model": model,
    }
