"""The markdown -> Qdrant sync: scan, plan (pure), execute (the only writer), checkpoint and
journal, migrations, reports."""
