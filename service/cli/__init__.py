"""The `memsync` command line: parser, one module per command family, rendering for people."""
