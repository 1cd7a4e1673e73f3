"""The agents `memsync connect` knows and its scopes (light: the CLI parser lists them)."""

AGENTS = ("claude", "codex", "cursor", "opencode")
SCOPES = ("project", "user")
