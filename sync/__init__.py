"""memsync core: markdown memories, content-hash checkpoint, pure planning, one executor.

This package imports no web framework, CLI library, Qdrant or torch; adapters for the
encoder and the vector index live in ``embeddings`` and implement the ports in
``sync.ports``.
"""
