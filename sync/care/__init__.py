"""Care: keeping the store healthy (maintain merges and archives, audit reports)."""
