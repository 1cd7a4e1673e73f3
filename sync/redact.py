"""Secret redaction: the rules applied to every text before it is extracted, embedded or stored.

Each secret becomes ``[REDACTED:<kind>]``; for assignments and URLs the key, scheme, user and
host are kept so the text still reads. Patterns are specific (known token prefixes) or keyed
on a name that says "secret", so ordinary words, hashes, UUIDs and paths stay. Redacting
twice gives the same text as redacting once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MARK = "[REDACTED:"

_Replacer = Callable[[re.Match[str]], str | None]


@dataclass(frozen=True)
class _Rule:
    """One secret pattern; ``hint`` is a cheap substring test that skips the regex."""

    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...] = ()
    fix: _Replacer | None = None  # None: replace the whole match; returns None to keep it


def _tag(kind: str) -> str:
    return f"{MARK}{kind}]"


def _has_digit_and_letter(s: str) -> bool:
    return any(c.isdigit() for c in s) and any(c.isalpha() for c in s)


def _randomish(m: re.Match[str]) -> str | None:
    """Keep prefixes followed by plain words (``sk-learn-style-names``): keys mix digits in."""
    return "" if _has_digit_and_letter(m[0]) else None


def _keep_group(group: str, random: bool = False) -> _Replacer:
    """Replace only ``group``, keeping the text around it (``random``: only digit+letter mixes)."""

    def fix(m: re.Match[str]) -> str | None:
        if m[group].startswith((MARK, "$")) or (random and not _has_digit_and_letter(m[group])):
            return None
        return "\0" + group  # sentinel: substitute the group

    return fix


_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"|(?:(?:\\[nr]|[ \t\r\n])+[A-Za-z0-9+/=]{16,})*)"
)
_URL = re.compile(
    r"\b(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]{1,20}://)(?P<user>[^\s:/@\"'<>]*):"
    r"(?P<secret>[^\s@/\"'<>]+)@(?=[\w\[])"
)
_AUTH = re.compile(
    r"(?i)\b(?:authorization|proxy-authorization)(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?"
    r"(?:bearer|basic|token|digest)\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})"
)
_BEARER = re.compile(r"\b[Bb]earer\s+(?P<secret>[A-Za-z0-9._~+/-]{20,}=*)")
_ANTHROPIC = re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")
_OPENAI = re.compile(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")
_GITHUB = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b")
_SLACK = re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")
_GOOGLE = re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")
_STRIPE = re.compile(r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}")
_AWS_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_AWS_SECRET = re.compile(
    r"(?i)\b(?:aws_?secret(?:_?access)?_?key|secret_?access_?key)(?:\\?[\"'])?\s*[:=]\s*"
    r"(?:\\?[\"'])?(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")

_SPECIFIC: tuple[_Rule, ...] = (
    _Rule("private_key", _PEM, ("PRIVATE KEY",)),
    _Rule("url_password", _URL, ("://",), _keep_group("secret")),
    _Rule("auth_header", _AUTH, ("uthorization", "UTHORIZATION"), _keep_group("secret")),
    _Rule("auth_header", _BEARER, ("earer",), _keep_group("secret", random=True)),
    _Rule("anthropic_key", _ANTHROPIC, ("sk-ant-",)),
    _Rule("openai_key", _OPENAI, ("sk-",), _randomish),
    _Rule("github_token", _GITHUB, ("gh", "github_pat_")),
    _Rule("slack_token", _SLACK, ("xox",), _randomish),
    _Rule("google_api_key", _GOOGLE, ("AIza",)),
    _Rule("stripe_key", _STRIPE, ("k_live_", "k_test_")),
    _Rule("aws_access_key_id", _AWS_ID, ("AKIA", "ASIA")),
    _Rule("aws_secret_key", _AWS_SECRET, ("ecret", "ECRET"), _keep_group("secret")),
    _Rule("jwt", _JWT, ("eyJ",)),
)

# Generic assignments: a name that says "secret", then = or :, then a value.
_ASSIGN = re.compile(
    r"(?<![\w.\-/\\])(?P<key>-{0,2}[A-Za-z_][\w.-]{0,60}?)(?:\\?[\"'])?[ \t]*"
    r"(?P<sep>:=|=>|[:=](?!=))[ \t]*"
    r"(?P<val>\\?\"[^\"\\\n]*\\?\"|'[^'\n]*'|[^\s\"'`,;})\]\\]+)"
)
_FLAG = re.compile(
    r"(?<![\w-])(?P<key>--(?:password|passwd|token|api-key|secret|client-secret))[ \t]+"
    r"(?P<val>\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'-][^\s\"']*)"
)
_ASSIGN_HINT = re.compile(r"(?i)pass|pwd|secret|token|key|credential")
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
_KEY_PAIRS = {"api", "access", "private", "auth", "signing", "encryption", "master", "license"}
_NOT_SECRET = {
    "count", "type", "limit", "max", "min", "usage", "length", "len", "num", "file", "path",
    "dir", "name", "field", "url", "uri", "endpoint", "expiry", "expires", "expiration", "ttl",
    "input", "output", "prompt", "completion", "budget", "hint", "policy", "reset", "regex",
    "pattern", "env", "var", "header", "id", "ids", "label", "prefix", "format", "required",
    "placeholder", "validation", "strength", "manager", "store", "rate", "index", "position",
    "kind", "cache", "bucket", "estimate", "estimator", "total", "used", "remaining", "arn",
}  # fmt: skip
_PLACEHOLDERS = {
    "none", "null", "nil", "true", "false", "undefined", "str", "string", "int", "bytes",
    "optional", "required", "redacted", "hidden", "secret", "password", "token", "xxx",
    "changeme", "example", "your_password", "your_token", "your_api_key", "value", "empty",
}  # fmt: skip


_CODE_WORDS = {
    "await", "new", "this", "self", "function", "lambda", "typeof", "require", "async",
    "yield", "not", "get", "process", "import", "return", "os", "env",
}  # fmt: skip
_OPERATOR_NEXT = re.compile(r"[ \t]*(?:[?&|+*<>!%^]|==|\.\w|\()")


def _components(key: str) -> list[str]:
    """``OPENAI_API_KEY`` / ``clientSecret`` / ``x-api-key`` → lower-case words."""
    words: list[str] = []
    for part in re.split(r"[_.\-]+", key):
        words.extend(w.lower() for w in _CAMEL.findall(part))
    return words


def _secret_kind(key: str) -> str | None:
    """The redaction kind a key name implies, or None when it names no secret."""
    words = _components(key)
    if not words or any(w in _NOT_SECRET for w in words):
        return None
    for i, word in enumerate(words):
        if word in _SECRET_WORDS:
            return _SECRET_WORDS[word]
        if word == "key" and i > 0 and words[i - 1] in _KEY_PAIRS:
            return "api_key" if words[i - 1] == "api" else "secret"
    return None


def _unquote(val: str) -> tuple[str, int, int]:
    """The inner value and its span within ``val`` (quotes, escaped or not, stripped)."""
    for q in ('\\"', '"', "'"):
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
        kind = _secret_kind(m["key"])
        if kind is None:
            return m[0]
        val = m["val"]
        inner, start, end = _unquote(val)
        sep = m.groupdict().get("sep") or "="
        if not _is_value(inner, start > 0, sep, m["key"]):
            return m[0]
        if not start and _OPERATOR_NEXT.match(m.string, m.end()):
            return m[0]  # an expression: apiKey = model ? ... / token = a + b
        counts[kind] = counts.get(kind, 0) + 1
        head = m[0][: m.start("val") - m.start()]
        return head + val[:start] + _tag(kind) + val[end:]

    return fix


def _apply(rule: _Rule, text: str, counts: dict[str, int]) -> str:
    """Run one specific rule over ``text``."""

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
        return _tag(rule.kind)

    return rule.pattern.sub(sub, text)


def redact(text: str) -> tuple[str, dict[str, int]]:
    """``text`` with every secret found replaced by ``[REDACTED:<kind>]``, and counts per kind."""
    counts: dict[str, int] = {}
    if not text:
        return text, counts
    for rule in _SPECIFIC:
        if any(h in text for h in rule.hints):
            text = _apply(rule, text, counts)
    if "--" in text:
        text = _FLAG.sub(_assignment(counts), text)
    if _ASSIGN_HINT.search(text):
        text = _ASSIGN.sub(_assignment(counts), text)
    return text, counts
