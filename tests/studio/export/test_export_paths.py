"""What an export carries of the server it was made on: no absolute paths (runs folder, uploads, home, temp), and a
run's name, whatever it holds, never breaks the reproduce script it is pasted into."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from studio import export
from studio.export.reproduce import script_and_packages


def _texts(zip_path: Path) -> dict[str, str]:
    with zipfile.ZipFile(zip_path) as zf:
        return {n: zf.read(n).decode("utf-8", "replace") for n in zf.namelist()
                if not n.endswith((".safetensors", ".parquet", ".onnx", ".bin"))}


@pytest.mark.parametrize("kind", ["adapter", "merged", "reproduce"])
def test_an_export_names_no_path_of_the_server(finished_run, tmp_path, kind):
    store, run_id, cfg = finished_run
    rd = store.run_dir(run_id)
    texts = _texts(export.build_zip(rd, kind, tmp_path / "out"))
    leaks = {"runs folder": str(store.root), "data folder": str(Path(cfg.data.train).parent), "home": str(Path.home()),
             "temp": "/tmp/"}
    for name, text in texts.items():
        for what, path in leaks.items():
            assert path not in text, f"{name} holds the {what} ({path})"


def test_a_run_name_cannot_break_the_reproduce_script(finished_run, tmp_path):
    store, run_id, cfg = finished_run
    rd = store.run_dir(run_id)
    config = json.loads((rd / "config.json").read_text())
    original = dict(config)
    try:
        config["name"] = 'evil """ + __import__("os").system("touch pwned") + """ \\N{oops} \\'
        (rd / "config.json").write_text(json.dumps(config))
        text, _ = script_and_packages(rd)
    finally:
        (rd / "config.json").write_text(json.dumps(original))
    compile(text, "reproduce.py", "exec")  # a SyntaxError here is a broken (or hijacked) script
    import ast

    calls = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call)
             and getattr(n.func, "attr", None) == "system"]
    assert not calls, "the name became code"
