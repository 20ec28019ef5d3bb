"""``emg-edge frontend-tables`` refuses a bundle it cannot load in one line (exit 2), no traceback."""

from __future__ import annotations

from edge.cli import main as edge_main


def test_missing_bundle_is_a_one_line_user_error(tmp_path, capsys):
    assert edge_main(["frontend-tables", "--bundle", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("emg-edge: error: bundle refused:") and "nope" in err


def test_damaged_bundle_is_a_one_line_user_error(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text("{not json")
    assert edge_main(["frontend-tables", "--bundle", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bundle refused" in err
