"""Secret redaction: the rules applied to every text before it is extracted, embedded or stored.

Each secret becomes ``[REDACTED:<kind>]``; for assignments, flags and URLs the key, flag,
scheme, user and host are kept so the text still reads. In order: known formats
(``sync.redact_rules``: providers, command lines, detect-secrets' detectors), then values
given to names that say "secret" (``password=``, ``--token``, ``"apiKey": ...``; names that
only say "key" need a random-looking value), then passwords in prose ("my password is ...")
and AWS-shaped secret keys near the word. Ordinary words, code, hashes, UUIDs and paths
stay. Redacting twice gives the same text as redacting once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from collections.abc import Callable
from typing import Any

from sync.models import Memory
from sync.redact_rules import (
    COMMAND_LINE,
    INTL_PASSWORD_WORDS,
    MARK,
    PROSE_INTL,
    PROVIDERS,
    TOKEN,
    Rule,
    cjk_password,
    library_rules,
)


def _tag(kind: str) -> str:
    return f"{MARK}{kind}]"


_ASSIGN = re.compile(
    r"(?<![\w.\-/\\])(?P<key>-{0,2}[A-Za-z_][\w.-]{0,60}?)(?:\\?[\"'])?[ \t]*"
    r"(?P<sep>:=|=>|[:=](?!=))[ \t]*"
    r"(?P<val>\\?\"[^\"\\\n]*\\?\"|'[^'\n]*'|[^\s\"'`,;})\]\\]+)"
)
_FLAG = re.compile(
    r"(?<![\w-])(?P<key>--(?:password|passwd|pass|token|auth-token|api-key|apikey|secret|"
    r"client-secret|secret-key|access-key|secret-access-key|private-key|registry-password|"
    r"db-password|admin-password))[ \t]+"
    r"(?P<val>\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'-][^\s\"']*)"
)
_PROSE = re.compile(
    r"(?i)\b(?P<key>passwords?|passwd|passphrase|pass ?code|pin|secret(?: access)?(?: key)?|"
    r"api[ _-]?key|access[ _-]?(?:key|token)|(?:auth |bearer |api |access )?token|credentials?)"
    r"(?: for [\w.@-]+| of [\w.@-]+)?(?: is| was| are| =| set to| becomes| will be| reads)"
    r"(?: now| still)?:?[ \t]+(?P<val>\"[^\"\n]{3,}\"|'[^'\n]{3,}'|`[^`\n]{3,}`|[^\s,;]+)"
)
_AWS_SHAPED = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SECRET_WORDS = {
    "password": "password",
    "passwd": "password",
    "pass": "password",
    "pwd": "password",
    "passphrase": "password",
    "secret": "secret",
    "token": "token",
    "apikey": "api_key",
    "credential": "secret",
    "credentials": "secret",
}
_SUFFIXES = ("password", "passwd", "passphrase", "secret", "token", "apikey")
_KEY_PAIRS = {"api", "access", "private", "auth", "signing", "encryption", "master", "license"}
# names that may hold a secret, but only a random-looking value is taken for one
_WEAK_WORDS = {"key", "auth", "sig", "signature", "salt", "cookie", "session", "dsn", "hmac"}
_NOT_SECRET = {
    "count", "type", "limit", "max", "min", "usage", "length", "len", "num", "file", "path",
    "dir", "name", "field", "url", "uri", "endpoint", "expiry", "expires", "expiration", "ttl",
    "input", "output", "prompt", "completion", "budget", "hint", "policy", "reset", "regex",
    "pattern", "env", "var", "header", "id", "ids", "label", "prefix", "format", "required",
    "placeholder", "validation", "strength", "manager", "store", "rate", "index", "position",
    "kind", "cache", "bucket", "estimate", "estimator", "total", "used", "remaining", "arn",
    "tokens", "tokenizer", "sort", "primary", "foreign", "partition", "hash", "lookup",
    "timeout", "version", "mode", "enabled", "provider", "source", "method", "scope",
}  # fmt: skip
_PLACEHOLDERS = {
    "none", "null", "nil", "true", "false", "undefined", "str", "string", "int", "bytes",
    "optional", "required", "redacted", "hidden", "secret", "password", "token", "xxx",
    "changeme", "example", "your_password", "your_token", "your_api_key", "value", "empty",
}  # fmt: skip
_PROSE_WORDS = {
    "required", "wrong", "incorrect", "invalid", "expired", "missing", "correct", "valid",
    "empty", "set", "unset", "stored", "needed", "optional", "the", "a", "an", "not", "in",
    "hidden", "same", "different", "too", "still", "rotated", "revoked", "saved", "sent",
}  # fmt: skip
_CODE_WORDS = {
    "await", "new", "this", "self", "function", "lambda", "typeof", "require", "async",
    "yield", "not", "get", "process", "import", "return", "os", "env",
}  # fmt: skip
_OPERATOR_NEXT = re.compile(r"[ \t]*(?:[?&|+*<>!%^]|==|\.\w|\()")
_UUID = re.compile(r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _components(key: str) -> list[str]:
    """``OPENAI_API_KEY`` / ``clientSecret`` / ``x-api-key`` → lower-case words."""
    words: list[str] = []
    for part in re.split(r"[_.\-]+", key):
        words.extend(w.lower() for w in _CAMEL.findall(part))
    return words


@functools.lru_cache(maxsize=8192)
def _secret_kind(key: str, *, weak: bool = False) -> str | None:
    """The redaction kind a key name implies, or None when it names no secret (``weak``:
    also names that only say "key", "auth", "sig"...)."""
    words = _components(key)
    if not words or any(w in _NOT_SECRET for w in words):
        return None
    for i, word in enumerate(words):
        if word in _SECRET_WORDS:
            return _SECRET_WORDS[word]
        if word == "key" and i > 0 and words[i - 1] in _KEY_PAIRS:
            return "api_key" if words[i - 1] == "api" else "secret"
        suffix = next((s for s in _SUFFIXES if word.endswith(s)), None)
        if suffix is not None:  # PGPASSWORD, authtoken, clientsecret
            return _SECRET_WORDS.get(suffix, "api_key")
    if weak and any(w in _WEAK_WORDS for w in words):
        return "secret"
    return None


def entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    if not s:
        return 0.0
    counts: dict[str, int] = {}
    for c in s:
        counts[c] = counts.get(c, 0) + 1
    n = len(s)
    return -sum(k / n * math.log2(k / n) for k in counts.values())


def random_looking(s: str) -> bool:
    """A generated value rather than a word, name, UUID or path: long, mixed, high entropy."""
    if len(s) < 16 or " " in s or _UUID.fullmatch(s) or s.startswith(("/", "./", "~/", "http")):
        return False
    classes = sum(
        (any(c.islower() for c in s), any(c.isupper() for c in s), any(c.isdigit() for c in s))
    )
    return classes >= 2 and any(c.isdigit() for c in s) and entropy(s) >= 3.0


def _unquote(val: str) -> tuple[str, int, int]:
    """The inner value and its span within ``val`` (quotes, escaped or not, stripped)."""
    for q in ('\\"', '"', "'", "`"):
        if len(val) >= 2 * len(q) and val.startswith(q) and val.endswith(q):
            return val[len(q) : len(val) - len(q)], len(q), len(val) - len(q)
    return val, 0, len(val)


def _is_value(inner: str, quoted: bool, sep: str, key: str) -> bool:
    """Whether ``inner`` looks like a literal secret rather than code, prose or a placeholder."""
    low = inner.lower()
    if len(inner) < 3 or inner.startswith((MARK, "$", "%", "{{", "<", "/", "~/", "./", "../")):
        return False
    if inner.endswith(("...", "…")) or low in _CODE_WORDS:
        return False
    if low in _PLACEHOLDERS or low == key.lower().lstrip("-") or set(inner) <= set("*xX.•-"):
        return False
    if re.match(r"[A-Za-z]:\\", inner) or (" " in inner.strip() and not quoted):
        return False
    if quoted:
        return inner.count(" ") < 3  # a sentence is a description, not a secret
    if any(c in inner for c in "([{") or re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", inner):
        return False  # code: os.environ[...], self.token, get_secret()
    if _secret_kind(inner) is not None and re.fullmatch(r"[A-Za-z_]\w*", inner):
        return False  # a variable named like a secret: token=access_token
    if sep in ("=", ":=") or key.isupper():
        return True  # env / config style: FOO_TOKEN=..., PASSWD: ...
    mixed = inner[1:] != inner[1:].lower() and inner != inner.upper()
    symbol = any(c in "!@#%^&*+/=?_~" for c in inner)
    return len(inner) >= 16 or (
        len(inner) >= 6 and (any(c.isdigit() for c in inner) or mixed or symbol)
    )


def _assignment(counts: dict[str, int]) -> Callable[[re.Match[str]], str]:
    """Replace the value of a ``key = value`` whose key names a secret."""

    def fix(m: re.Match[str]) -> str:
        key, val = m["key"], m["val"]
        inner, start, end = _unquote(val)
        kind = _secret_kind(key)
        sep = m.groupdict().get("sep") or "="
        if kind is not None:
            if not _is_value(inner, start > 0, sep, key):
                return m[0]
        elif _secret_kind(key, weak=True) is None or not random_looking(inner):
            return m[0]
        else:
            kind = "secret"
        if not start and _OPERATOR_NEXT.match(m.string, m.end()):
            return m[0]  # an expression: apiKey = model ? ... / token = a + b
        counts[kind] = counts.get(kind, 0) + 1
        head = m[0][: m.start("val") - m.start()]
        return head + val[:start] + _tag(kind) + val[end:]

    return fix


def _prose(counts: dict[str, int]) -> Callable[[re.Match[str]], str]:
    """ "my password is hunter2": a value with a digit, a symbol, mixed case, or in quotes."""

    def fix(m: re.Match[str]) -> str:
        val = m["val"].rstrip(".!?)")
        inner, start, end = _unquote(val)
        if inner.startswith(MARK) or inner.lower() in _PROSE_WORDS | _PLACEHOLDERS:
            return m[0]
        plain = re.fullmatch(r"[a-z]+|[A-Z][a-z]+", inner) is not None
        if len(inner) < 4 or (not start and (plain or not _is_value(inner, False, ":", "x"))):
            return m[0]
        kind = _secret_kind(m["key"].replace(" ", "_")) or "password"
        counts[kind] = counts.get(kind, 0) + 1
        head = m[0][: m.start("val") - m.start()]
        return head + val[:start] + _tag(kind) + val[end:] + m["val"][len(val) :]

    return fix


def _prose_intl(counts: dict[str, int]) -> Callable[[re.Match[str]], str]:
    """A password in prose in another language. After a CJK word for it ("密码为jiangcc，…")
    the run of Latin characters that follows is the password whatever its shape (the prose
    around it is not Latin); elsewhere the English rule's test of a value holds."""
    latin = _prose(counts)

    def fix(m: re.Match[str]) -> str:
        inner = cjk_password(m["key"], m["val"])
        if len(inner) < 4 or inner.startswith(MARK) or inner.lower() in _PLACEHOLDERS:
            return latin(m)
        counts["password"] = counts.get("password", 0) + 1
        head = m[0][: m.start("val") - m.start()]
        return head + _tag("password") + m["val"][len(inner) :]

    return fix


def _aws_shaped(counts: dict[str, int]) -> Callable[[re.Match[str]], str]:
    """A 40-character base64 word with upper, lower and digits shortly after "aws", "secret"
    or an access key id: an AWS secret access key given in prose (git hashes are lower-case
    hex; paths and identifiers rarely have this shape and context)."""

    def fix(m: re.Match[str]) -> str:
        s = m[0]
        before = m.string[max(0, m.start() - 200) : m.start()]
        near = before[-80:].lower()
        if "aws" not in near and "secret" not in near and "aws_access_key_id]" not in before:
            return s
        if not (any(c.isupper() for c in s) and any(c.islower() for c in s)):
            return s
        digits = sum(c.isdigit() for c in s)
        if not digits or not ("/" in s or "+" in s or digits >= 3) or entropy(s) < 4.0:
            return s
        counts["aws_secret_key"] = counts.get("aws_secret_key", 0) + 1
        return _tag("aws_secret_key")

    return fix


def _apply(rule: Rule, text: str, counts: dict[str, int]) -> str:
    """Run one rule over ``text``."""

    def sub(m: re.Match[str]) -> str:
        if m[0].startswith(MARK):
            return m[0]
        verdict = rule.fix(m) if rule.fix else ""
        if verdict is None:
            return m[0]
        counts[rule.kind] = counts.get(rule.kind, 0) + 1
        if verdict.startswith("\0"):
            group = verdict[1:]
            s, e = m.start(group) - m.start(), m.end(group) - m.start()
            return m[0][:s] + _tag(rule.kind) + m[0][e:]
        if verdict.startswith("\x01"):
            return m[0].replace(verdict[1:], _tag(rule.kind), 1)
        return _tag(rule.kind)

    return rule.pattern.sub(sub, text)


@dataclasses.dataclass(frozen=True)
class _Catalog:
    """Every rule in order, and which rules each hint wakes up (one substring test per hint,
    not per rule; most hints only in the text's long words)."""

    rules: tuple[Rule, ...]
    in_words: dict[str, tuple[int, ...]]
    anywhere: dict[str, tuple[int, ...]]
    ihints: dict[str, tuple[int, ...]]
    always: tuple[int, ...]

    def wanted(self, text: str, lower: str) -> list[Rule]:
        chosen = set(self.always)
        words = "\n".join(TOKEN.findall(text))
        for hints, where in ((self.in_words, words), (self.anywhere, text), (self.ihints, lower)):
            for hint, idx in hints.items():
                if hint in where:
                    chosen.update(idx)
        return [self.rules[i] for i in sorted(chosen)]


@functools.cache
def _catalog(second_net: bool = True) -> _Catalog:
    rules = (*PROVIDERS, *COMMAND_LINE, *(library_rules() if second_net else ()))
    in_words: dict[str, list[int]] = {}
    anywhere: dict[str, list[int]] = {}
    ihints: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        for h in rule.hints:
            (anywhere if rule.anywhere else in_words).setdefault(h, []).append(i)
        for h in rule.ihints:
            ihints.setdefault(h, []).append(i)

    def frozen(d: dict[str, list[int]]) -> dict[str, tuple[int, ...]]:
        return {h: tuple(v) for h, v in d.items()}

    return _Catalog(
        rules,
        frozen(in_words),
        frozen(anywhere),
        frozen(ihints),
        tuple(i for i, r in enumerate(rules) if not r.hints and not r.ihints),
    )


_ASSIGN_WORDS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "sig",
    "salt",
    "cookie",
    "session",
    "dsn",
    "hmac",
)
_PROSE_WORDS_GATE = (
    "passw", "passphrase", "passcode", "pass code", "pin ", "secret", "api key", "api-key",
    "api_key", "apikey", "access key", "access_key", "access token", "access_token", "token",
    "credential",
)  # fmt: skip
MIN_SECRET_TEXT = 6  # "pwd=ab" is the shortest text that can hold a secret we redact


def redact(text: str, *, second_net: bool = True) -> tuple[str, dict[str, int]]:
    """``text`` with every secret found replaced by ``[REDACTED:<kind>]``, and counts per kind.
    ``second_net`` False skips detect-secrets' detectors (and their import): for text built
    from what was already redacted, such as a run's report."""
    counts: dict[str, int] = {}
    if not text:
        return text, counts
    if len(text) < MIN_SECRET_TEXT:
        return text, counts
    lower = text.lower()
    for rule in _catalog(second_net).wanted(text, lower):
        text = _apply(rule, text, counts)
    if counts:
        lower = text.lower()
    if "--" in text:
        text = _FLAG.sub(_assignment(counts), text)
    if any(w in lower for w in _ASSIGN_WORDS):
        text = _ASSIGN.sub(_assignment(counts), text)
    if any(w in lower for w in _PROSE_WORDS_GATE):
        text = _PROSE.sub(_prose(counts), text)
    if any(w in lower for w in INTL_PASSWORD_WORDS):
        text = PROSE_INTL.sub(_prose_intl(counts), text)
    if "aws" in lower or "secret" in lower:
        text = _AWS_SHAPED.sub(_aws_shaped(counts), text)
    return text, counts


def redact_memory(memory: Memory) -> tuple[Memory, dict[str, int]]:
    """``memory`` with its title, body and tags redacted (the same object when clean). The id
    is left alone: other memories and the index refer to it."""
    total: dict[str, int] = {}
    fields: dict[str, object] = {}
    for name in ("title", "body"):
        value, counts = redact(getattr(memory, name))
        if counts:
            fields[name] = value
            for kind, n in counts.items():
                total[kind] = total.get(kind, 0) + n
    tags = [redact(t) for t in memory.tags]
    if any(c for _, c in tags):
        fields["tags"] = tuple(t for t, _ in tags)
        for _, counts in tags:
            for kind, n in counts.items():
                total[kind] = total.get(kind, 0) + n
    return (dataclasses.replace(memory, **fields) if fields else memory), total  # type: ignore[arg-type]


def redact_data(data: Any) -> Any:
    """A run's report (JSON-like, built from redacted memories; error messages and the names
    of hand-made files may still quote a secret) with every string redacted by our own rules;
    ``data`` itself when nothing needs it (one pass over its JSON text decides)."""
    if not redact(json.dumps(data, ensure_ascii=False, default=str), second_net=False)[1]:
        return data
    return _walk(data)


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value, second_net=False)[0]
    if isinstance(value, dict):
        return {_walk(k) if isinstance(k, str) else k: _walk(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v) for v in value]
    return value
