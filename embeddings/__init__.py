"""Adapters implementing ``sync.ports``: the sentence-transformers encoder and Qdrant indexes.

Heavy imports (torch, sentence-transformers, qdrant-client) happen inside the adapters, when
one is built, so that commands with nothing to embed start fast.
"""
