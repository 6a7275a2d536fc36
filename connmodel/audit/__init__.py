"""Audit of connections and profiles: SQL-side queries (`queries`), the periodic report
(`report`), its charts (`charts`) and the recommended actions (`actions`).

The notebooks in `notebooks/` and `connmodel audit` call the same functions.
"""
