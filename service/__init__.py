"""memsync's composition root: settings (the one place config is read), wiring, and the
CLI, HTTP and agent front ends built on them."""
