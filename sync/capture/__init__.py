"""Capture: agent sessions and knowledge files become memories (sources, redaction,
extraction, dedup of candidates, writing, daily logs)."""
