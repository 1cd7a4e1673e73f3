"""What a shell command is, for the failure rules (pure): a look (ls, grep, `docker context
ls`), a setup step that changes how things run (`docker context use default`, `npm install`),
and how a command that passed differs from the one that failed (flags, answers piped in, the
environment it needs).
"""

from __future__ import annotations

import re

from sync.capture.extraction.timeline import Act

_LISTS = re.compile(  # `docker context ls`, `brew info x`, `curl …/health`: a look
    r"(?:^|\s)(?:ls|list|status|info|show|describe|inspect|version|ps|logs|help|curl|wget|ping"
    r"|--version|--help)(?:\s|$)"
)
_SETS = re.compile(r"^[A-Z_][A-Z0-9_]*=")  # PATH=…, NODE_OPTIONS=…
_LOOKUPS = frozenset(
    {
        "ls", "ll", "find", "fd", "grep", "rg", "ag", "ack", "cat", "head", "tail", "less",
        "which", "whereis", "type", "file", "stat", "test", "tree", "wc", "echo", "pwd", "du",
        "df", "sed", "awk", "jq", "open", "code", "sleep", "cd", "mkdir", "cp", "mv", "rm",
        "ps", "env", "printenv",
    }
)  # fmt: skip
_NOISE_ARGS = re.compile(
    r"^(?:cd|&&|;|\||2>&1|>|timeout|\d+|tail|head|-n|-\d+|/dev/null|true|grep|-v|-q)$"
)


def is_lookup(command: str) -> bool:
    """Whether a command only looks (its first program is ls, find, grep, cat …)."""
    for step in re.split(r"&&|;|\|", command):
        words = [w for w in step.split() if "=" not in w]
        while words and (words[0] in ("sudo", "time", "timeout") or words[0][:1].isdigit()):
            words = words[1:]  # `sudo npm i` runs npm
        if words and words[0] != "cd":
            return words[0].rsplit("/", 1)[-1] in _LOOKUPS
    return True


def _words(command: str) -> list[str]:
    return [w for w in command.split() if not _NOISE_ARGS.match(w)]


def added_words(before: str, after: str) -> list[str]:
    """What the command that worked has that the failed one lacked (at most four words)."""
    had = set(_words(before))
    return [w for w in _words(after) if w not in had][:4]


def runs_differently(act: Act, passed: Act, added: list[str]) -> bool:
    """Whether the command that passed ran the program differently (flags, answers piped in),
    not only at another path or with its errors filtered out."""
    if not added or is_lookup(act.facts.summary):
        return False
    if re.search(r"\|\s*(?:grep|tail|head|sed|awk)\b", passed.facts.summary):
        return False
    return any(  # a flag, answers piped in, or the environment it needs (PATH, a venv)
        w.startswith("-") or w in ("yes", "echo", "printf", "export", "source") or _SETS.match(w)
        for w in added
    )


def is_setup(act: Act) -> bool:
    """A command that changed how things run, not one that looked, tested or used git."""
    f = act.facts
    looks = is_lookup(f.summary) or _LISTS.search(f.summary) or f.program.startswith("git")
    return f.kind == "run" and not act.failed and not f.inspects and not f.verifies and not looks
