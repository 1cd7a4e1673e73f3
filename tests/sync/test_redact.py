"""Secret redaction: every kind is caught, ordinary text is left alone, twice equals once."""

from __future__ import annotations

import pytest

from sync.capture.redact import redact_transcript
from sync.capture.sources.base import Message, ToolCall, Transcript
from sync.redact import redact

# Fake secrets, assembled so that no scanner mistakes this file for a leak.
GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GH_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123"
OPENAI = "sk-" + "proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34"
OPENAI_OLD = "sk-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2"
ANTHROPIC = "sk-ant-" + "api03-Qw12Er34Ty56Ui78Op90As12Df34"
SLACK = "xoxb-" + "123456789012-abcdefGHIJKL"
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
STRIPE = "sk_live_" + "51Hx9AbCdEfGhIjKlMn"
STRIPE_R = "rk_live_" + "51Hx9AbCdEfGhIjKlMn"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
JWT = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0." + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9"
PEM = (
    "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234567890abcdefABCDEF\n"
    "abcdEFGH12345678abcdEFGH12345678==\n-----END RSA " + "PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        (f"key:\n{PEM}\nafter", "key:\n[REDACTED:private_key]\nafter", "private_key"),
        (f"id {AWS_ID} ok", "id [REDACTED:aws_access_key_id] ok", "aws_access_key_id"),
        (
            f"aws_secret_access_key = {AWS_SECRET}",
            "aws_secret_access_key = [REDACTED:aws_secret_key]",
            "aws_secret_key",
        ),
        (f"push with {GH} now", "push with [REDACTED:github_token] now", "github_token"),
        (f"pat {GH_PAT}", "pat [REDACTED:github_token]", "github_token"),
        (f"key {OPENAI}.", "key [REDACTED:openai_key].", "openai_key"),
        (f"key {OPENAI_OLD}", "key [REDACTED:openai_key]", "openai_key"),
        (
            f"ANTHROPIC_API_KEY={ANTHROPIC}",
            "ANTHROPIC_API_KEY=[REDACTED:anthropic_key]",
            "anthropic_key",
        ),
        (f"slack {SLACK}", "slack [REDACTED:slack_token]", "slack_token"),
        (f"maps {GOOGLE} end", "maps [REDACTED:google_api_key] end", "google_api_key"),
        (f"stripe {STRIPE}", "stripe [REDACTED:stripe_key]", "stripe_key"),
        (f"restricted {STRIPE_R}", "restricted [REDACTED:stripe_key]", "stripe_key"),
        (f"cookie {JWT} set", "cookie [REDACTED:jwt] set", "jwt"),
        (
            'curl -H "Authorization: Bearer abc123def456ghi789"',
            'curl -H "Authorization: Bearer [REDACTED:auth_header]"',
            "auth_header",
        ),
        (
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            "Authorization: Basic [REDACTED:auth_header]",
            "auth_header",
        ),
        (
            "postgres://admin:s3cr3t@db.example.com:5432/app",
            "postgres://admin:[REDACTED:url_password]@db.example.com:5432/app",
            "url_password",
        ),
        (
            "mongodb+srv://app:pa55word@cluster0.example.net/db",
            "mongodb+srv://app:[REDACTED:url_password]@cluster0.example.net/db",
            "url_password",
        ),
        (
            "mysql://root:hunter2@localhost/x",
            "mysql://root:[REDACTED:url_password]@localhost/x",
            "url_password",
        ),
        (
            "redis://:hunter2@cache:6379/0",
            "redis://:[REDACTED:url_password]@cache:6379/0",
            "url_password",
        ),
        (
            "amqp://guest:guest123@rabbit/",
            "amqp://guest:[REDACTED:url_password]@rabbit/",
            "url_password",
        ),
        (
            "git clone https://me:tok3n@github.com/o/r",
            "git clone https://me:[REDACTED:url_password]@github.com/o/r",
            "url_password",
        ),
        ("password=hunter2", "password=[REDACTED:password]", "password"),
        ("PASSWD: hunter2", "PASSWD: [REDACTED:password]", "password"),
        ('api_key = "abc123xyz"', 'api_key = "[REDACTED:api_key]"', "api_key"),
        ("SECRET_KEY=django-insecure-abc", "SECRET_KEY=[REDACTED:secret]", "secret"),
        ("token: abcdef123456", "token: [REDACTED:token]", "token"),
        ('{"client_secret": "cs_abc_123"}', '{"client_secret": "[REDACTED:secret]"}', "secret"),
        ("export FOO_TOKEN=abc123", "export FOO_TOKEN=[REDACTED:token]", "token"),
        ("db_pass = 'Tr0ub4dor'", "db_pass = '[REDACTED:password]'", "password"),
        ("clientSecret: 'xyzzy-42'", "clientSecret: '[REDACTED:secret]'", "secret"),
        ("login --password hunter22", "login --password [REDACTED:password]", "password"),
        (
            "服务器密码是Qx7mn2Lp，用户名root",
            "服务器密码是[REDACTED:password]，用户名root",
            "password",
        ),
        ("パスワード: Km2-x9Pq です", "パスワード: [REDACTED:password] です", "password"),
        (
            "账号名称为 jeremyj，密码为jiangcc，登录成功后",
            "账号名称为 jeremyj，密码为[REDACTED:password]，登录成功后",
            "password",
        ),
        ("пароль — Zx81!mQ", "пароль — [REDACTED:password]", "password"),
        ("mot de passe : Zz8!kLp0qq", "mot de passe : [REDACTED:password]", "password"),
        ("Das Passwort ist Ha8xYz2z.", "Das Passwort ist [REDACTED:password].", "password"),
        (
            '{\\"api_key\\": \\"abc123secret\\"}',
            '{\\"api_key\\": \\"[REDACTED:api_key]\\"}',
            "api_key",
        ),
    ],
)
def test_each_kind_is_redacted(text: str, expected: str, kind: str) -> None:
    out, counts = redact(text)
    assert out == expected
    assert counts == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "Please reset the password field and the token expiry before the demo.",
        "password: required",
        "The password must be at least 8 characters; see the token docs.",
        "commit 3f2a9c1b7e5d4a6f8b0c2e4d6f8a0b2c4e6f8a0b fixed it",
        "session 123e4567-e89b-12d3-a456-426614174000 started",
        "key file at /home/u/.ssh/id_rsa and ~/.config/secret_token.txt",
        "max_tokens=4096 input_tokens: 1500 token_count=5 tokenizer=bpe",
        "password = os.environ['DB_PASSWORD']",
        "token=access_token; api_key=self.api_key; password: str",
        "const apiKey = await getApiKeyForModel(model);",
        "const hasApiKey = restoredModel ? true : false",
        "export OPENAI_API_KEY=sk-...  # placeholder",
        "PWD=/home/user/project",
        "password: ${DB_PASSWORD}",
        "scikit uses sk-learn-is-a-long-kebab-name-here",
        "Bearer authentication is described in RFC 6750.",
        "https://example.com:8080/path?q=1",
        "secret_name: prod-db",
        "deploy key: see the wiki",
        "密码是什么？请告诉我怎么重置",
        "默认密码为空，密码为 xxx 时请修改",
        "パスワードを入力してください",
        "пароль неверный, попробуйте ещё раз",
        "the 口令 was rejected",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == (text, {})


def test_redacting_twice_equals_once() -> None:
    text = "\n".join(
        [
            PEM,
            f"{AWS_ID} {GH} {OPENAI} {ANTHROPIC} {SLACK} {GOOGLE} {STRIPE} {JWT}",
            "Authorization: Bearer abc123def456ghi789",
            "postgres://u:pw123@h/db password=hunter2 PASSWD: hunter2",
            'api_key = "abc123xyz" {"client_secret": "cs_abc_123"} export FOO_TOKEN=abc123',
        ]
    )
    once, counts = redact(text)
    twice, again = redact(once)
    assert twice == once
    assert again == {}
    assert sum(counts.values()) == 16
    for secret in (AWS_ID, GH, OPENAI, ANTHROPIC, SLACK, GOOGLE, STRIPE, JWT, "hunter2", "pw123"):
        assert secret not in once


def test_redact_transcript_covers_every_field() -> None:
    call = ToolCall("Bash", f'{{"command": "export FOO_TOKEN={GH}"}}', f"echo {OPENAI}")
    t = Transcript(
        agent="claude",
        session_id="s1",
        path="/x.jsonl",
        title=f"debug {AWS_ID}",
        messages=(
            Message("user", "my password=hunter2 is set", line=1),
            Message("assistant", "ok", thinking=f"the key is {GOOGLE}", tool_calls=(call,), line=2),
            Message("assistant", "nothing secret here", line=3),
        ),
    )
    out, counts = redact_transcript(t)
    assert counts == {
        "password": 1,
        "google_api_key": 1,
        "github_token": 1,
        "openai_key": 1,
        "aws_access_key_id": 1,
    }
    assert out.title == "debug [REDACTED:aws_access_key_id]"
    assert out.messages[0].text == "my password=[REDACTED:password] is set"
    assert out.messages[1].thinking == "the key is [REDACTED:google_api_key]"
    assert (
        out.messages[1].tool_calls[0].input
        == '{"command": "export FOO_TOKEN=[REDACTED:github_token]"}'
    )
    assert out.messages[1].tool_calls[0].output == "echo [REDACTED:openai_key]"
    assert out.messages[2] is t.messages[2]  # untouched messages are shared, not copied
    assert out.messages[0].line == 1 and out.session_id == "s1"
    assert redact_transcript(out) == (out, {})


def test_clean_transcript_is_returned_as_is() -> None:
    t = Transcript("codex", "s", "/p", (Message("user", "hello there"),))
    out, counts = redact_transcript(t)
    assert out is t
    assert counts == {}
