"""The coding agents' side: skills (and later MCP, hooks, connect)."""
