"""Audit of connections and profiles, read-only and computed in the database.

`queries` answers each audit question with a small DataFrame; `report` runs them all for
`connmodel audit` and `render` turns that into JSON (`schema`), Markdown or one HTML file with
Bokeh `charts`; `actions` recommends commands and dry-runs revocations; `notebooks` executes the
notebooks in `notebooks/`, which call the same queries.
"""
