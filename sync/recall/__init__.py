"""Recall: answering a question from memory (hybrid retrieval, a cited answer)."""
