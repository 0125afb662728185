"""Security guarantees of the engine: no remote code, no pickles, hub ids checked before a run exists,
user-given names and run ids never become paths, and tokens never written anywhere.

(Basic auth and the API's run-id checks are tested against the served app in
tests/components/test_bad_inputs_ui.py; the launch flags in tests/test_launch.py.)
"""

from __future__ import annotations

import json
import logging
import pickle
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from studio import cli, export, models
from studio.base.errors import ExportError, ModelError, RunError
from studio.config import RunConfig
from studio.data import uploads
from studio.tasks.text_classification import model as tc_model
from tests.bad_inputs import GOOD_CSV

TOKEN = "hf_SeCrEtT0kenValue1234567890"


# ------------------------------------------------------------------------------- remote code --
class Spy:
    """Wraps a from_pretrained classmethod and records the keyword arguments of every call."""

    def __init__(self, monkeypatch, cls):
        self.calls: list[dict] = []
        real = cls.from_pretrained

        def spy(*args, **kwargs):
            self.calls.append(kwargs)
            return real(*args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", spy)


def test_every_load_passes_trust_remote_code_off_and_safetensors_only(monkeypatch, tiny_bert):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    monkeypatch.delenv("STUDIO_TRUST_REMOTE_CODE", raising=False)
    toks, mods = Spy(monkeypatch, AutoTokenizer), Spy(monkeypatch, AutoModelForSequenceClassification)
    tok = tc_model.load_tokenizer(tiny_bert)
    tc_model.load_model(tiny_bert, ["a", "b"], tok)
    assert toks.calls[-1]["trust_remote_code"] is False
    assert mods.calls[-1]["trust_remote_code"] is False and mods.calls[-1]["use_safetensors"] is True
    monkeypatch.setenv("STUDIO_TRUST_REMOTE_CODE", "1")  # the operator's flag sets this
    tc_model.load_model(tiny_bert, ["a", "b"], tc_model.load_tokenizer(tiny_bert))
    assert toks.calls[-1]["trust_remote_code"] is True and mods.calls[-1]["trust_remote_code"] is True


def _custom_code_folder(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "custom"
    folder.mkdir()
    marker = tmp_path / "remote-code-ran"
    (folder / "config.json").write_text(json.dumps({"model_type": "custom-thing", "auto_map": {
        "AutoConfig": "modeling_custom.CustomConfig",
        "AutoModelForSequenceClassification": "modeling_custom.CustomModel"}}))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "modeling_custom.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    return folder, marker


def test_remote_code_never_runs_unless_the_operator_allows_it(tmp_path, monkeypatch):
    monkeypatch.delenv("STUDIO_TRUST_REMOTE_CODE", raising=False)
    folder, marker = _custom_code_folder(tmp_path)
    with pytest.raises(ModelError, match="--trust-remote-code"):
        models.resolve(str(folder))
    with pytest.raises(Exception):  # even past the studio's own check, transformers refuses
        tc_model.load_model(folder, ["a", "b"])
    assert not marker.exists(), "the repository's code ran"
    monkeypatch.setenv("STUDIO_TRUST_REMOTE_CODE", "1")
    assert models.resolve(str(folder)) == folder.resolve()


def test_the_cli_flag_turns_remote_code_on_for_its_workers(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUDIO_TRUST_REMOTE_CODE", "0")
    assert cli.main(["--runs-dir", str(tmp_path / "runs"), "runs"]) == 0
    assert not models.trust_remote_code()
    assert cli.main(["--trust-remote-code", "--runs-dir", str(tmp_path / "runs"), "runs"]) == 0
    assert models.trust_remote_code()  # workers inherit the environment


# ------------------------------------------------------------------------------------ pickles --
class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_weights_are_never_unpickled(tmp_path, tiny_bert):
    folder = tmp_path / "pickled"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (tiny_bert / name).exists():
            (folder / name).write_bytes((tiny_bert / name).read_bytes())
    marker = tmp_path / "unpickled"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ModelError) as err:
        models.resolve(str(folder))
    assert "pytorch_model.bin" in str(err.value) and "safe_serialization=True" in str(err.value)
    with pytest.raises(Exception):  # the loader itself asks for safetensors and refuses the pickle
        tc_model.load_model(folder, ["a", "b"])
    assert not marker.exists(), "the pickle was loaded"


# ------------------------------------------------------------------------------- hub model ids --
@pytest.fixture
def online(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")


def _model_info(monkeypatch, result):
    import huggingface_hub

    def fake(self, repo_id, **kw):
        if isinstance(result, BaseException):
            raise result
        return result

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", fake)


def _cfg(tmp_path, model: str) -> RunConfig:
    train = tmp_path / "t.csv"
    train.write_text(GOOD_CSV, encoding="utf-8")
    return RunConfig.from_dict({"model": model, "data": {"train": str(train)}})


def test_an_unreachable_hub_is_said_before_a_run_exists(tmp_path, store, online, monkeypatch):
    import httpx

    _model_info(monkeypatch, httpx.ConnectError("[Errno 101] Network is unreachable"))
    assert models.resolve("someone/some-model") == "someone/some-model"  # online: a hub id passes through
    with pytest.raises(ModelError, match=r"'someone/some-model' is not in this server's Hugging Face cache and the hub "
                                         r"is unreachable \(ConnectError\)"):
        store.create(_cfg(tmp_path, "someone/some-model"))
    assert store.list() == [] and not [p for p in store.root.iterdir() if p.is_dir()]


def test_a_missing_or_pickle_only_hub_model_is_refused(tmp_path, store, online, monkeypatch):
    import httpx
    from huggingface_hub.errors import RepositoryNotFoundError

    response = httpx.Response(404, request=httpx.Request("GET", "https://huggingface.co/api/models/x/y"))
    _model_info(monkeypatch, RepositoryNotFoundError("404 Repository Not Found", response=response))
    with pytest.raises(ModelError, match="There is no model 'someone/typo' on the Hugging Face Hub"):
        store.create(_cfg(tmp_path, "someone/typo"))
    files = [SimpleNamespace(rfilename=n) for n in ("config.json", "pytorch_model.bin")]
    _model_info(monkeypatch, SimpleNamespace(siblings=files))
    with pytest.raises(ModelError, match="no safetensors weights"):
        store.create(_cfg(tmp_path, "someone/old-model"))
    assert store.list() == []


# ------------------------------------------------------------------------ names never paths --
@pytest.mark.parametrize("name", ["../../etc/passwd.csv", "/etc/cron.d/evil.csv", "..\\..\\win.csv",
                                  "C:\\Windows\\evil.csv", "nul\x00byte.csv", "x/\x00/../y.csv"])
def test_uploaded_names_never_become_paths(tmp_path, name):
    src = tmp_path / "src.bin"
    src.write_text(GOOD_CSV)
    dest = tmp_path / "runs" / "uploads"
    stored = uploads.store_upload(src, dest, original_name=name)
    assert stored.path.parent == dest and stored.path.suffix == ".csv"
    assert [p.name for p in dest.iterdir()] == [stored.path.name]
    assert "/" not in stored.display_name and "\\" not in stored.display_name and "\x00" not in stored.display_name
    assert not list(tmp_path.glob("**/passwd.csv")) and not Path("/etc/cron.d/evil.csv").exists()


@pytest.mark.parametrize("name", [".csv", "   .csv", "../.csv", "../../etc/passwd", "evil.csv\x00.exe", "x.csv/"])
def test_names_without_a_plain_data_extension_are_refused(tmp_path, name):
    src = tmp_path / "src.bin"
    src.write_text(GOOD_CSV)
    with pytest.raises(uploads.DataError, match="unsupported file type"):
        uploads.store_upload(src, tmp_path / "uploads", original_name=name)
    assert not (tmp_path / "uploads").exists() or not list((tmp_path / "uploads").iterdir())


@pytest.mark.parametrize("run_id", ["../x", "..", "/etc/passwd", "20261123-142455-3fa2b1/../../x",
                                    "20261123-142455-3fa2b1\x00", "", "20261123-142455-3FA2B1"])
@pytest.mark.parametrize("action", ["run_dir", "get", "sync", "stop", "kill", "resume", "delete"])
def test_run_ids_are_validated_by_every_store_action(store, run_id, action):
    with pytest.raises(RunError, match="is not a run id"):
        getattr(store, action)(run_id)


# ---------------------------------------------------------------------------------- secrets --
def _all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def test_tokens_never_land_in_files_logs_archives_or_messages(finished_run, tmp_path, monkeypatch, caplog, capsys):
    import huggingface_hub

    store, run_id, _ = finished_run
    run_dir = store.run_dir(run_id)
    caplog.set_level(logging.DEBUG)
    errors = []
    # Offline: the hub client is never reached.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ExportError) as err:
        export.push_to_hub(run_dir, "someone/model", TOKEN)
    errors.append(str(err.value))
    # Online, and the client's own error repeats the token: it is scrubbed from the message.
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")

    def leaky(self, repo_id, **kw):
        raise RuntimeError(f"bad credentials {self.token} for {repo_id}")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", leaky)
    with pytest.raises(ExportError) as err:
        export.push_to_hub(run_dir, "someone/model", TOKEN)
    errors.append(str(err.value))
    # A push that works: the token goes to the client in memory, the uploaded files never hold it.
    uploaded = tmp_path / "uploaded"
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: f"https://hf.co/{repo_id}")
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder",
                        lambda self, repo_id, folder_path, **kw: __import__("shutil").copytree(folder_path, uploaded))
    assert export.push_to_hub(run_dir, "someone/model", TOKEN) == "https://hf.co/someone/model"
    # The command line takes the token from HF_TOKEN only, and prints none of it.
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", leaky)
    assert cli.main(["--runs-dir", str(store.root), "export", run_id, "--push", "someone/model"]) == 2
    out, err_text = capsys.readouterr()
    errors.append(out + err_text)
    zip_path = export.build_zip(run_dir, "adapter", tmp_path / "zips")
    with zipfile.ZipFile(zip_path) as zf:
        archive = "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())

    assert all(e and "***" in e or "HF_HUB_OFFLINE" in e for e in errors), errors
    for where, text in (("errors", "\n".join(errors)), ("logs", caplog.text), ("run folder", _all_text(run_dir)),
                        ("uploaded files", _all_text(uploaded)), ("zip", archive),
                        ("registry", (store.root / "registry.sqlite").read_bytes().decode("latin-1"))):
        assert TOKEN not in text, f"the token appears in the {where}"
    for name in ("config.json", "train.log", "metrics.jsonl", "status.json"):
        assert (run_dir / name).exists()
