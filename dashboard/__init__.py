"""The connmodel admin console: a Panel app over `connmodel.services` (no SQL, no secrets here)."""
