"""Turning a transcript into memory candidates (offline rules, or DSPy when an LM is set)."""
