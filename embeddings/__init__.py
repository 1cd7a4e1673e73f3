"""Adapters implementing ``sync.ports``: the encoders (ONNX Runtime, with the export and cache
of its graph, and sentence-transformers) and the Qdrant indexes.

Heavy imports (onnxruntime, torch, sentence-transformers, qdrant-client) happen inside the
adapters, when one is built, so that commands with nothing to embed start fast.
"""
