"""`connmodel notebooks`: lists the shipped notebooks and copies them, never over a file."""

from connmodel.cli import run

SHIPPED = ["connections_overview", "errors_and_expiry", "explore_connections", "stale_and_unused"]


def test_lists_the_shipped_notebooks_with_their_paths(capsys):
    assert run(["notebooks"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [name for name, _ in rows] == SHIPPED
    assert all(path.endswith(f"{name}.ipynb") for name, path in rows)


def test_copies_them_and_refuses_to_overwrite(capsys, tmp_path):
    assert run(["notebooks", "--copy-to", str(tmp_path)]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.ipynb")) == SHIPPED
    (tmp_path / "errors_and_expiry.ipynb").write_text("mine")
    capsys.readouterr()
    assert run(["notebooks", "--copy-to", str(tmp_path)]) == 2
    assert "not copied: connections_overview.ipynb" in capsys.readouterr().err
    assert (tmp_path / "errors_and_expiry.ipynb").read_text() == "mine"


def test_a_missing_folder_is_made_and_a_file_is_refused(capsys, tmp_path):
    """The README's `connmodel notebooks --copy-to ~/notebooks` failed on a fresh machine
    ("it is not a folder"); a file in the way is still one clear error."""
    assert run(["notebooks", "--copy-to", str(tmp_path / "new" / "notebooks")]) == 0
    assert sorted(p.stem for p in (tmp_path / "new" / "notebooks").glob("*.ipynb")) == SHIPPED
    (tmp_path / "file").write_text("mine")
    capsys.readouterr()
    assert run(["notebooks", "--copy-to", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine"
