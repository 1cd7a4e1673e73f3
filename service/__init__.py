"""memsync's composition root: settings (the one place config is read), wiring, and the
CLI, HTTP and agent front ends built on them."""

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)
