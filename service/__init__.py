"""The composition root: settings, wiring of adapters into the core, and the CLI."""
