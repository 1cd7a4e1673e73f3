"""A corpus of planted secrets (every kind redaction must catch) and of ordinary text that
must stay as it is. Fake values are generated, so no scanner mistakes this file for a leak."""

from __future__ import annotations

import random
import string

_R = random.Random(1313)
LOWER, UPPER, DIGITS = string.ascii_lowercase, string.ascii_uppercase, string.digits
ALNUM = LOWER + UPPER + DIGITS
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"


def fake(n: int, alphabet: str = ALNUM) -> str:
    """A random value; one that mixes letters and digits when the alphabet has both."""
    mixed = any(c.isdigit() for c in alphabet) and any(c.isalpha() for c in alphabet)
    while True:
        s = "".join(_R.choice(alphabet) for _ in range(n))
        if not mixed or (any(c.isdigit() for c in s) and any(c.isalpha() for c in s)):
            return s


def _pem(label: str) -> str:
    body = "\n".join(fake(64, B64) for _ in range(4))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


# (kind as people name it, text with {s} where the secret goes, the secret)
PLANTED: list[tuple[str, str, str]] = [
    # the kinds the adversarial review found getting through
    ("npm", "publish with {s} then", "npm_" + fake(36)),
    ("npmrc", "//registry.npmjs.org/:_authToken={s}", fake(36, HEX + "-")),
    ("hugging face", "HF token {s} for the hub", "hf_" + fake(34)),
    ("gitlab", "git push with {s}", "glpat-" + fake(20, ALNUM + "_-")),
    ("pypi", "twine upload -p {s}", "pypi-AgEIcHlwaS5vcmc" + fake(60, ALNUM + "_-")),
    ("sendgrid", "mail key {s}", "SG." + fake(22) + "." + fake(43)),
    ("twilio sid", "twilio account {s}", "AC" + fake(32, HEX)),
    ("twilio key", "twilio key {s}", "SK" + fake(32, HEX)),
    ("databricks", "databricks {s}", "dapi" + fake(32, HEX)),
    ("shopify", "shopify admin {s}", "shpat_" + fake(32, HEX)),
    (
        "azure storage",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={s};EndpointSuffix=x",
        fake(86, B64) + "==",
    ),
    ("age", "age key {s}", "AGE-SECRET-KEY-1" + fake(58, UPPER + DIGITS)),
    ("PGPASSWORD", "PGPASSWORD={s} psql -h db", fake(14)),
    ("MYSQL_PWD", "MYSQL_PWD={s} mysql -u root", fake(12)),
    ("mysql -p", "mysql -u root -p{s} shop", fake(12)),
    ("docker login", "docker login -u bot -p {s} registry.example.com", fake(20)),
    ("aws secret in prose", "my AWS secret key is {s} for prod", fake(40, B64) + "/"[:0]),
    (
        "aws secret after id",
        "creds: AKIA" + fake(16, UPPER + DIGITS) + " {s}",
        fake(20, B64) + "/" + fake(19, B64),
    ),
    ("password in prose", "my password is {s} so log in", "Hunt3r-" + fake(6)),
    ("url password with @", "postgres://app:{s}@db.example.com:5432/app", "p@ss" + fake(8) + "@x"),
    ("url password with / and :", "redis://u:{s}@cache:6379/0", "a/b:" + fake(10)),
    # language models
    ("openai", "OPENAI_API_KEY={s}", "sk-proj-" + fake(40)),
    ("openai legacy", "key {s}.", "sk-" + fake(48)),
    ("anthropic", "use {s}", "sk-ant-api03-" + fake(40, ALNUM + "_-")),
    ("groq", "groq {s}", "gsk_" + fake(52)),
    ("replicate", "replicate {s}", "r8_" + fake(37)),
    ("perplexity", "pplx {s}", "pplx-" + fake(48)),
    ("xai", "grok {s}", "xai-" + fake(80)),
    # version control
    ("github", "push with {s} now", "ghp_" + fake(36)),
    ("github fine-grained", "pat {s}", "github_pat_" + fake(22) + "_" + fake(59)),
    ("bitbucket", "bitbucket {s}", "ATBB" + fake(32)),
    ("atlassian", "jira {s}", "ATATT3" + fake(180, ALNUM + "_-=")),
    # package registries
    ("rubygems", "gem push {s}", "rubygems_" + fake(48, HEX)),
    ("docker hub", "docker {s}", "dckr_pat_" + fake(27, ALNUM + "_-")),
    ("nuget", "nuget push -k {s}", "oy2" + fake(43, LOWER + DIGITS)),
    # cloud
    ("aws key id", "id {s} ok", "AKIA" + fake(16, UPPER + DIGITS)),
    ("aws secret", "aws_secret_access_key = {s}", fake(40, B64)),
    ("google api", "maps {s} end", "AIza" + fake(35, ALNUM + "_-")),
    ("google oauth secret", "client {s}", "GOCSPX-" + fake(28, ALNUM + "_-")),
    ("google access token", "token ya29.{s}", fake(60, ALNUM + "_-")),
    ("gcp service account", '{{"private_key": "{s}"}}', _pem("PRIVATE KEY").replace("\n", "\\n")),
    ("azure sas", "https://acct.blob.core.windows.net/c?sv=2022&sig={s}", fake(44, ALNUM + "%")),
    ("azure client secret", "AZURE secret {s}", fake(3) + "8Q~" + fake(34, ALNUM + "_.-")),
    ("digitalocean", "doctl {s}", "dop_v1_" + fake(64, HEX)),
    ("alibaba", "aliyun {s}", "LTAI" + fake(20)),
    ("supabase", "supabase {s}", "sbp_" + fake(40, HEX)),
    ("vault", "VAULT token {s}", "hvs." + fake(90, ALNUM + "_-")),
    ("terraform", "tfe {s}", fake(14) + ".atlasv1." + fake(67, ALNUM + "_-")),
    ("doppler", "doppler {s}", "dp.st." + fake(43)),
    ("heroku", "heroku {s}", "HRKU-" + fake(60, ALNUM + "_-")),
    ("fly.io", "fly {s}", "fo1_" + fake(43, ALNUM + "_-")),
    ("planetscale", "pscale {s}", "pscale_tkn_" + fake(43)),
    ("grafana", "grafana {s}", "glsa_" + fake(32) + "_" + fake(8, HEX)),
    ("new relic", "nr {s}", "NRAK-" + fake(27, UPPER + DIGITS)),
    ("sentry", "sentry {s}", "sntrys_" + fake(80, ALNUM + "+/=")),
    ("linear", "linear {s}", "lin_api_" + fake(40)),
    ("notion", "notion {s}", "ntn_" + fake(46)),
    ("postman", "postman {s}", "PMAK-" + fake(24, HEX) + "-" + fake(34, HEX)),
    # payments
    ("stripe", "stripe {s}", "sk_live_" + fake(24)),
    ("stripe restricted", "restricted {s}", "rk_live_" + fake(24)),
    ("stripe webhook", "whsec {s}", "whsec_" + fake(32)),
    ("square", "square {s}", "sq0csp-" + fake(43, ALNUM + "_-")),
    (
        "paypal braintree",
        "bt {s}",
        "access_token$production$" + fake(16, LOWER + DIGITS) + "$" + fake(32, HEX),
    ),
    ("razorpay", "rzp {s}", "rzp_live_" + fake(14)),
    # messaging
    ("slack bot", "slack {s}", "xoxb-" + fake(12, DIGITS) + "-" + fake(24)),
    (
        "slack webhook",
        "post to https://hooks.slack.com/services/{s}",
        "T" + fake(10, UPPER + DIGITS) + "/B" + fake(10, UPPER + DIGITS) + "/" + fake(24),
    ),
    (
        "discord webhook",
        "https://discord.com/api/webhooks/123456789012345678/{s}",
        fake(68, ALNUM + "_-"),
    ),
    ("telegram", "bot {s}", fake(10, DIGITS) + ":AA" + fake(33, ALNUM + "_-")),
    ("mailgun", "mailgun {s}", "key-" + fake(32, HEX)),
    ("mailchimp", "mailchimp {s}", fake(32, HEX) + "-us14"),
    ("facebook", "fb {s}", "EAA" + fake(120)),
    (
        "jwt",
        "cookie {s} set",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + fake(43, ALNUM + "_-"),
    ),
    # private keys
    ("rsa private key", "key:\n{s}\nafter", _pem("RSA PRIVATE KEY")),
    ("openssh private key", "{s}", _pem("OPENSSH PRIVATE KEY")),
    ("ec private key", "{s}", _pem("EC PRIVATE KEY")),
    ("pgp private key", "{s}", _pem("PGP PRIVATE KEY BLOCK")),
    (
        "putty key",
        "PuTTY-User-Key-File-3: ssh-ed25519\n{s}\nPrivate-MAC: " + fake(64, HEX),
        "Private-Lines: 1\n" + fake(44, B64),
    ),
    # headers, command lines, environment and config files
    ("bearer header", 'curl -H "Authorization: Bearer {s}"', fake(32)),
    ("basic header", "Authorization: Basic {s}", fake(24, B64) + "=="),
    ("--password", "pg_dump --password {s} db", fake(12)),
    ("--token=", "cli --token={s} run", fake(24)),
    ("curl -u", "curl -u admin:{s} https://api.example.com", fake(12)),
    ("sshpass", "sshpass -p {s} ssh host", fake(12)),
    ("redis-cli", "redis-cli -h cache -a {s} ping", fake(16)),
    ("openssl pass:", "openssl rsa -in k.pem -passin pass:{s}", fake(12)),
    ("ldapsearch", "ldapsearch -x -D cn=admin -w {s} -b dc=x", fake(12)),
    ("export", "export GITHUB_TOKEN={s}", fake(40)),
    ("env file", "DATABASE_PASSWORD={s}", fake(18)),
    ("yaml", "db:\n  password: {s}\n", fake(14)),
    ("json", '{{"client_secret": "{s}"}}', fake(24)),
    ("toml", 'api_key = "{s}"', fake(32)),
    ("python kwarg", 'connect(user="app", password="{s}")', fake(14)),
    ("camelCase", "const authToken = '{s}';", fake(32)),
    ("high entropy key name", "SIGNING_KEY={s}", fake(48, B64)),
    ("session cookie", "session_cookie: {s}", fake(40)),
    ("secret in prose", "the api key for staging is {s}.", fake(24)),
    ("token in prose quoted", "the token was `{s}` yesterday", "tok-" + fake(12)),
    ("escaped json", '{{\\"api_key\\": \\"{s}\\"}}', fake(20)),
]

# Ordinary text that must come out unchanged: identifiers, hashes, UUIDs, paths, prose.
ORDINARY: list[str] = [
    "Please reset the password field and the token expiry before the demo.",
    "password: required",
    "The password must be at least 8 characters; see the token docs.",
    "my password is required to be rotated; the token is expired; the secret is out",
    "commit 3f2a9c1b7e5d4a6f8b0c2e4d6f8a0b2c4e6f8a0b fixed it",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "md5 d41d8cd98f00b204e9800998ecf8427e",
    "session 123e4567-e89b-12d3-a456-426614174000 started",
    "idempotency_key: 123e4567-e89b-12d3-a456-426614174000",
    "key file at /home/u/.ssh/id_rsa and ~/.config/secret_token.txt",
    "src/components/PasswordResetForm.tsx and lib/aws/credentials/provider_chain.ts",
    "max_tokens=4096 input_tokens: 1500 token_count=5 tokenizer=bpe",
    "password = os.environ['DB_PASSWORD']",
    "token=access_token; api_key=self.api_key; password: str",
    "const apiKey = await getApiKeyForModel(model);",
    "const hasApiKey = restoredModel ? true : false",
    "export OPENAI_API_KEY=sk-...  # placeholder",
    "PWD=/home/user/project OLDPWD=/tmp",
    "password: ${DB_PASSWORD}",
    "scikit uses sk-learn-is-a-long-kebab-name-here",
    "Bearer authentication is described in RFC 6750.",
    "https://example.com:8080/path?q=1 and http://[::1]:8765/api",
    "ssh://git@github.com/org/repo.git and git@github.com:org/repo.git",
    "mail me at someone@example.com",
    "secret_name: prod-db",
    "deploy key: see the wiki",
    "sort_key = 'created_at'; primary_key=True; cache_key = f'{user}:{item}'",
    "docker run -p 8080:80 app && ssh -p 2222 host && pytest -p no:cacheprovider",
    "pip install -U hf_transfer npm_config_cache pypi-server",
    "getAccessTokenFromCookie(request) returns a TokenResponse",
    "SKIP_ACCESS_CHECKS=1 TASK_KEY_PREFIX=jobs",
    "the AWS region is eu-west-1 and the bucket is my-bucket",
    "integrity sha512-Wx9yPbNq3kZz7C8f2vR5tL1mJ0hG4dS6aQ3eW8rT2yU1iO9pA7sD5fG3hJ1kL0zX4cV6bN8m"
    "Q2wE==",
    "API keys are stored in the vault, never in the repo.",
    "the pin is at 3.2.1",
    "Authorization: Bearer ${TOKEN}",
    "x-api-key header and the key-value store",
    "AccountName=devstoreaccount1;BlobEndpoint=http://127.0.0.1:10000",
    "use mysql -u root -p to be prompted; docker login -u bot --password-stdin",
]
