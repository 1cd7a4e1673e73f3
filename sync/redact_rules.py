"""The secret formats redaction knows: provider keys, command-line credentials, and the
regular-expression detectors of the detect-secrets library as a second net.

Each rule names its kind and the cheap substrings (``hints``) without which its pattern
cannot match, so most texts skip most patterns. To add a format: one ``_Rule`` here, one
planted example in ``tests/sync/test_redact_corpus.py``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

MARK = "[REDACTED:"

Replacer = Callable[[re.Match[str]], str | None]


@dataclass(frozen=True)
class Rule:
    """One secret pattern. ``fix`` None replaces the whole match; a fix returns None to keep
    the match, ``""`` to replace all of it, or ``"\\0<group>"`` to replace only that group.
    ``hints``: substrings one of which must occur (``ihints``: the same, ignoring case) — in
    a long word (``TOKEN``: the rule's match lies inside one), or ``anywhere`` in the text."""

    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...] = ()
    fix: Replacer | None = None
    ihints: tuple[str, ...] = ()
    anywhere: bool = False


# the words a provider key lives in: hints of the rules that are not ``anywhere`` are looked
# up only in these (a quarter of a transcript's text), not in the whole text
TOKEN = re.compile(r"[A-Za-z0-9_\-.+/=~$:@%]{12,}")


def has_digit_and_letter(s: str) -> bool:
    return any(c.isdigit() for c in s) and any(c.isalpha() for c in s)


def randomish(m: re.Match[str]) -> str | None:
    """Keep prefixes followed by plain words (``sk-learn-style-names``): keys mix digits in."""
    return "" if has_digit_and_letter(m[0]) else None


def keep_group(group: str = "secret", random: bool = False) -> Replacer:
    """Replace only ``group``, keeping the text around it (``random``: only digit+letter mixes)."""

    def fix(m: re.Match[str]) -> str | None:
        value = m[group]
        if not value or value.startswith((MARK, "$")):
            return None
        if random and not has_digit_and_letter(value):
            return None
        return "\0" + group

    return fix


def _r(
    kind: str, pattern: str, *hints: str, fix: Replacer | None = None, anywhere: bool = False
) -> Rule:
    return Rule(kind, re.compile(pattern), hints, fix, anywhere=anywhere)


_PEM = (
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"|(?:(?:\\[nr]|[ \t\r\n])+[A-Za-z0-9+/=]{16,})*)"
)
# user:password@host; the password may hold any character, '@' and '/' included (the last
# '@' before the host ends it), so "p@ss/w:rd" is redacted whole, not half
_URL = (
    r"\b(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]{1,20}://)(?P<user>[^\s:/@\"'<>]*):"
    r"(?P<secret>(?:[^\s@/\"'<>\\]|[@/\\](?=[^\s\"'<>]*@))+)@(?=[\w\[%])"
)
_Q = r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'|;&]+)"  # a shell word

PROVIDERS: tuple[Rule, ...] = (
    _r("private_key", _PEM, "PRIVATE KEY", anywhere=True),
    _r(
        "private_key",
        r"PuTTY-User-Key-File-\d+:[\s\S]*?Private-MAC: *[0-9a-fA-F]+",
        "PuTTY-",
        anywhere=True,
    ),
    _r("age_secret_key", r"\bAGE-SECRET-KEY-1[0-9A-Z]{50,70}", "AGE-SECRET-KEY-"),
    _r("url_password", _URL, "://", fix=keep_group(), anywhere=True),
    _r(
        "auth_header",
        r"(?i)\b(?:authorization|proxy-authorization)(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?"
        r"(?:bearer|basic|token|digest)\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
        "uthorization",
        "UTHORIZATION",
        fix=keep_group(),
        anywhere=True,
    ),
    _r(
        "auth_header",
        r"\b[Bb]earer\s+(?P<secret>[A-Za-z0-9._~+/-]{20,}=*)",
        "earer",
        fix=keep_group(random=True),
        anywhere=True,
    ),
    # language models
    _r("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", "sk-ant-"),
    _r(
        "openai_key",
        r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_-]{20,}",
        "sk-",
        fix=randomish,
    ),
    _r("huggingface_token", r"\b(?:hf|api_org)_[A-Za-z0-9]{30,}\b", "hf_", "api_org_"),
    _r("groq_key", r"\bgsk_[A-Za-z0-9]{40,}\b", "gsk_"),
    _r("replicate_token", r"\br8_[A-Za-z0-9]{30,}\b", "r8_", fix=randomish),
    _r("perplexity_key", r"\bpplx-[A-Za-z0-9]{40,}\b", "pplx-"),
    _r("xai_key", r"\bxai-[A-Za-z0-9]{60,}\b", "xai-"),
    # version control and CI
    _r(
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        "gh",
        "github_pat_",
    ),
    _r(
        "gitlab_token",
        r"\b(?:(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas|glffct|gltst)-"
        r"[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,})",
        "gl",
        "GR1348941",
    ),
    _r("bitbucket_token", r"\bATBB[A-Za-z0-9_=.-]{28,}", "ATBB"),
    _r("atlassian_token", r"\bATATT3[A-Za-z0-9_=-]{60,}", "ATATT3"),
    # package registries
    _r("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", "npm_"),
    _r("pypi_token", r"\bpypi-[A-Za-z0-9_-]{40,}", "pypi-", fix=randomish),
    _r("rubygems_token", r"\brubygems_[a-f0-9]{48}\b", "rubygems_"),
    _r("docker_hub_token", r"\bdckr_pat_[A-Za-z0-9_-]{20,}", "dckr_pat_"),
    _r("nuget_key", r"\boy2[a-z0-9]{43}\b", "oy2", fix=randomish),
    # cloud
    _r("aws_access_key_id", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", "AKIA", "ASIA"),
    _r(
        "aws_secret_key",
        r"(?i)\b(?:aws_?secret(?:_?access)?_?key|secret_?access_?key)(?:\\?[\"'])?\s*[:=]\s*"
        r"(?:\\?[\"'])?(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
        "ecret",
        "ECRET",
        fix=keep_group(),
        anywhere=True,
    ),
    _r("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", "AIza"),
    _r(
        "google_oauth",
        r"\b(?:GOCSPX-[A-Za-z0-9_-]{28}|ya29\.[A-Za-z0-9_-]{20,})",
        "GOCSPX-",
        "ya29.",
    ),
    _r(
        "azure_storage_key",
        r"(?i:AccountKey|SharedAccessKey|SharedSecretValue)\s*=\s*"
        r"(?P<secret>[A-Za-z0-9+/]{20,}={0,2})",
        "ccountKey",
        "ccessKey",
        "ecretValue",
        fix=keep_group(),
    ),
    _r("azure_sas", r"[?&]sig=(?P<secret>[A-Za-z0-9%+/=]{20,})", "sig=", fix=keep_group()),
    _r("azure_client_secret", r"\b[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}", "Q~"),
    _r("databricks_token", r"\bdapi[a-f0-9]{32}(?:-\d+)?\b", "dapi"),
    _r("digitalocean_token", r"\bdo[por]_v1_[a-f0-9]{64}\b", "_v1_"),
    _r("alibaba_key", r"\bLTAI[A-Za-z0-9]{12,20}\b", "LTAI", fix=randomish),
    _r("supabase_token", r"\bsbp_[a-f0-9]{40}\b", "sbp_"),
    _r("vault_token", r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}", "hvs.", "hvb.", "hvr."),
    _r("terraform_token", r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,}", ".atlasv1."),
    _r("doppler_token", r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}", "dp."),
    _r("heroku_token", r"\bHRKU-[A-Za-z0-9_-]{40,}", "HRKU-"),
    _r(
        "flyio_token",
        r"\b(?:FlyV1 fm\d_[A-Za-z0-9+/=_,-]{20,}|fo1_[A-Za-z0-9_-]{40,})",
        "fm1_",
        "fm2_",
        "fo1_",
    ),
    _r("planetscale_token", r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{30,}", "pscale_"),
    _r(
        "grafana_token",
        r"\b(?:glc_[A-Za-z0-9+/]{32,}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
        "glc_",
        "glsa_",
    ),
    _r("newrelic_key", r"\bNR(?:AK|JS|II|AA)-[A-Z0-9]{20,}\b", "NRAK-", "NRJS-", "NRII-", "NRAA-"),
    _r("sentry_token", r"\bsntry[su]_[A-Za-z0-9+/=_-]{40,}", "sntry"),
    _r("linear_key", r"\blin_(?:api|oauth)_[A-Za-z0-9]{40}\b", "lin_"),
    _r(
        "notion_token",
        r"\b(?:secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,})\b",
        "secret_",
        "ntn_",
        fix=randomish,
    ),
    _r("postman_key", r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b", "PMAK-"),
    # payments and commerce
    _r(
        "stripe_key",
        r"\b(?:[sr]k_(?:live|test)_[0-9A-Za-z]{16,}|whsec_[A-Za-z0-9]{24,})",
        "k_live_",
        "k_test_",
        "whsec_",
    ),
    _r(
        "square_token",
        r"\b(?:sq0(?:atp|csp)-[A-Za-z0-9_-]{22,43}|EAAA[A-Za-z0-9_-]{60})",
        "sq0",
        "EAAA",
    ),
    _r("paypal_token", r"access_token\$production\$[a-z0-9]{16}\$[a-f0-9]{32}", "access_token$"),
    _r("razorpay_key", r"\brzp_(?:live|test)_[A-Za-z0-9]{14,}", "rzp_"),
    _r("shopify_token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", "shp"),
    # messaging and mail
    _r("slack_token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}", "xox", fix=randomish),
    _r("slack_token", r"\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+", "xapp-"),
    _r(
        "slack_webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9/_-]{20,})",
        "hooks.slack.com",
        fix=keep_group(),
    ),
    _r(
        "discord_webhook",
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/(?P<secret>[\w-]{40,})",
        "/api/webhooks/",
        fix=keep_group(),
    ),
    _r("telegram_bot_token", r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])", ":AA"),
    _r("twilio_key", r"\b(?:AC|SK)[0-9a-f]{32}\b", "AC", "SK"),
    _r("sendgrid_key", r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{30,64}", "SG."),
    _r("mailgun_key", r"\bkey-[0-9a-f]{32}\b", "key-"),
    _r("mailchimp_key", r"\b[0-9a-f]{32}-us\d{1,2}\b", "-us"),
    _r("facebook_token", r"\bEAA[A-Za-z0-9]{100,}", "EAA"),
    _r("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", "eyJ"),
)

# Credentials given on a command line: the flag stays, the value goes.
COMMAND_LINE: tuple[Rule, ...] = (
    _r(
        "cli_password",
        r"\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlsh|mariadb(?:-dump)?)\b[^\n|;&]*?"
        r"(?<=\s)-p(?P<secret>\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'-][^\s\"']*)",
        "mysql",
        "mariadb",
        fix=keep_group(),
        anywhere=True,
    ),
    _r(
        "cli_password",
        r"\b(?:docker|podman|nerdctl|helm(?:\s+registry)?|oras|buildah|skopeo|crane|cf|oc)"
        rf"\s+login\b[^\n|;&]*?\s(?:-p|--password)(?:[ \t]+|=)(?P<secret>{_Q})",
        " login",
        fix=keep_group(),
        anywhere=True,
    ),
    _r(
        "cli_password",
        rf"\bsshpass\s+-p\s*(?P<secret>{_Q})",
        "sshpass",
        fix=keep_group(),
        anywhere=True,
    ),
    _r(
        "cli_password",
        rf"\bredis-cli\b[^\n|;&]*?\s(?:-a|--pass)\s+(?P<secret>{_Q})",
        "redis-cli",
        fix=keep_group(),
        anywhere=True,
    ),
    _r(
        "cli_password",
        r"\b(?:curl|wget|http|https|xh)\b[^\n|;&]*?\s(?:-u|--user)[ \t]+[\"']?[^\s:\"']+:"
        r"(?P<secret>[^\s\"']+)",
        "-u",
        "--user",
        fix=keep_group(),
        anywhere=True,
    ),
    _r(
        "cli_password",
        r"-pass(?:in|out)?\s+pass:(?P<secret>\S+)",
        "pass:",
        fix=keep_group(),
        anywhere=True,
    ),
    _r(
        "cli_password",
        r"\bldap\w*\b[^\n|;&]*?\s-w\s+(?P<secret>" + _Q + ")",
        "ldap",
        fix=keep_group(),
        anywhere=True,
    ),
    _r(
        "cli_password",
        r"\b(?:smbclient|rpcclient|smbmap)\b[^\n|;&]*?\s-U\s+[\"']?[^\s%\"']+%(?P<secret>[^\s\"']+)",
        "-U",
        fix=keep_group(),
        anywhere=True,
    ),
    _r(
        "cli_password",
        r"\bvault\s+login\s+(?!-)(?P<secret>\S{20,})",
        "vault",
        fix=keep_group(),
        anywhere=True,
    ),
)

# detect-secrets' detectors that are not provider formats (ours cover them better) or are
# not secrets at all (public IP addresses)
_LIBRARY_SKIP = {
    "BasicAuthDetector",
    "IPPublicDetector",
    "KeywordDetector",
    "Base64HighEntropyString",
    "HexHighEntropyString",
    "PrivateKeyDetector",
}
# substrings without which a library detector cannot match; unknown detectors always run
_LIBRARY_HINTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ArtifactoryDetector": ((" AKC", "=AKC", ":AKC", '"AKC', " AP", "=AP", ":AP", '"AP'), ()),
    "AWSKeyDetector": (("A3T", "ABIA", "ACCA", "AKIA", "ASIA"), ("aws",)),
    "AzureStorageKeyDetector": (("AccountKey=",), ()),
    "CloudantDetector": ((), ("cloudant", "cl_", "cl-", "clkey", "clpass", "clpw", "clapi")),
    "GitHubTokenDetector": (("gh",), ()),
    "GitLabTokenDetector": (("gl", "GR1348941"), ()),
    "IbmCloudIamDetector": ((), ("ibm", "iam", "cloud")),
    "IbmCosHmacDetector": ((), ("secret",)),
    "JwtTokenDetector": (("eyJ",), ()),
    "MailchimpDetector": (("-us",), ()),
    "NpmDetector": (("_authToken",), ()),
    "OpenAIDetector": (("T3BlbkFJ",), ()),
    "PypiTokenDetector": (("pypi-",), ()),
    "SendGridDetector": (("SG.",), ()),
    "SlackDetector": ((), ("xox", "hooks.slack.com")),
    "SoftlayerDetector": ((), ("softlayer", "sl_", "sl-", "slkey", "slpass", "slpw", "slapi")),
    "SquareOAuthDetector": (("sq0csp",), ()),
    "StripeDetector": (("k_live_",), ()),
    "TelegramBotTokenDetector": ((":",), ()),
    "TwilioKeyDetector": (("AC", "SK"), ()),
    "DiscordBotTokenDetector": ((".",), ()),
}
_HASHLIKE = re.compile(
    r"[0-9a-f]{32,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
_EDGE = " \t\r\n=:\"'"


def _library_fix(m: re.Match[str]) -> str | None:
    """A detect-secrets match: its value group when it has a long one (assignments), else the
    match without the context it includes; kept when it looks like a hash or plain words."""
    groups = [g for g in (m.groups() or ()) if g]
    value = groups[-1] if groups and len(groups[-1]) >= 16 else m[0].strip(_EDGE)
    if not has_digit_and_letter(value) or _HASHLIKE.fullmatch(value) or value.startswith(MARK):
        return None
    return "\x01" + value  # sentinel: replace this substring of the match


@functools.cache
def library_rules() -> tuple[Rule, ...]:
    """detect-secrets' regular-expression detectors as rules (imported on first use: the
    library pulls in ``requests``); empty when the library is missing."""
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
    except ImportError:  # pragma: no cover - a pinned dependency; our own rules still apply
        return ()
    rules = []
    detectors: dict[str, Any] = get_mapping_from_secret_type_to_class()
    for secret_type, cls in sorted(detectors.items()):
        if cls.__name__ in _LIBRARY_SKIP or not issubclass(cls, RegexBasedDetector):
            continue
        hints, ihints = _LIBRARY_HINTS.get(cls.__name__, ((), ()))
        in_words = not ihints and all(TOKEN.fullmatch(h * 12) for h in hints)
        kind = re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")
        patterns: Iterable[re.Pattern[str]] = cls.denylist
        for pattern in patterns:
            rules.append(Rule(kind, pattern, hints, _library_fix, ihints, anywhere=not in_words))
    return tuple(rules)


# "password" in other languages, then its copula or colon: "密码是 …", "パスワード: …",
# "пароль — …", "mot de passe : …" (the value must still look like one: ``_prose``)
_CJK_PASSWORD = ("密码", "密碼", "口令", "パスワード", "暗証番号", "비밀번호")  # no word breaks
_WORD_PASSWORD = (
    "пароль", "contraseña", "mot de passe", "passwort", "kennwort", "senha", "wachtwoord",
    "hasło", "şifre",
)  # fmt: skip
INTL_PASSWORD_WORDS = _CJK_PASSWORD + _WORD_PASSWORD
PROSE_INTL = re.compile(
    rf"(?i)(?P<key>(?:{'|'.join(_CJK_PASSWORD)})|(?<!\w)(?:{'|'.join(_WORD_PASSWORD)})(?!\w))"
    r"(?:[ \t]*(?:是|为|為|は|が|：|:|=|est|ist|es|é|это|—|-)){0,2}[ \t]*"
    r"(?P<val>\"[^\"\n]{3,}\"|'[^'\n]{3,}'|`[^`\n]{3,}`|「[^」\n]{3,}」|[^\s,;，。；、」）)]+)"
)
_CJK_KEY = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_ASCII_RUN = re.compile(r"[\x21-\x7e]+")


def cjk_password(key: str, value: str) -> str:
    """After a CJK word for password, the run of Latin characters that follows ("密码为jiangcc，
    登录…" → "jiangcc"): the prose around it is not Latin, so that run is the password
    whatever its shape; "" after any other word."""
    run = _ASCII_RUN.match(value) if _CJK_KEY.match(key) else None
    return run[0].rstrip(".!?)") if run else ""
