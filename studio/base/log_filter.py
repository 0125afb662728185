"""What a run's log says: plain lines a person can read, without what only looks alarming.

transformers reports every load as a coloured table, and a new task head reads
`classifier.weight | MISSING`, as if something were broken. A run installs `install()`, which turns
that table into one plain line ("new classification head: 2 tensors initialised"), and silences
warnings the studio already answers. `strip_ansi` removes terminal colour codes from any text the
page shows (logs written before, or by other libraries).
"""

from __future__ import annotations

import logging
import re
import warnings

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
HEADS = ("classifier", "score")  # what a classification head's weights are called
# Warnings the studio answers itself (it never asks for gradient checkpointing through the old name; run folders
# may live on filesystems without reliable mtimes, where transformers falls back to what the studio relies on).
QUIET = ("`is_gradient_checkpointing` is deprecated", "mtime may not be reliable")


# Library warnings judged harmless, each with where it comes from and why it is harmless here. Anything not named
# stays visible (tests print a summary of what is left), so a new warning is noticed.
HARMLESS = (
    # transformers 5.23 renamed gradient checkpointing to activation checkpointing; peft 0.21 (PeftModel.__init__,
    # prepare_model_for_kbit_training) and trl 1.16 (its configs, its trainers) still use the old names, which keep
    # working until transformers 6. The studio keeps the old names too: its floor is transformers 5.0.
    (FutureWarning, r"`(is_)?gradient_checkpointing(_kwargs|_enable|_disable)?` is deprecated", r"transformers\."),
    # gradio 6's queue sets pandas options pandas 3 deprecated (gradio/queueing.py); nothing the studio passes.
    (Warning, r"'future\.no_silent_downcasting' is deprecated", r"gradio\."),
    (Warning, r"The copy keyword is deprecated", r"gradio\."),
    # The seq2seq task passes labels and lets the encoder-decoder build decoder_input_ids from them: the "better
    # way" this 4.12-era notice describes is the one in use.
    (FutureWarning, r"Version v4\.12\.0 introduces a better way to train encoder-decoder models", r"transformers\."),
    # Prompt tuning prepends virtual tokens, so peft drops position ids it cannot shift; the model numbers the
    # positions itself, as it does for every unpadded batch.
    (UserWarning, r"Position ids are not supported for parameter efficient tuning", r"peft\."),
    # peft saves AdaLoRA's final rank_pattern under its parameter names (...lora_E) and on load matches them against
    # module names, so it ignores them: the pruned ranks load as the zeros they were saved as, and the reloaded
    # model answers as the trained one did (tests/studio/methods/test_methods.py compares their predictions).
    (RuntimeWarning, r"The following rank_pattern keys did not match any targeted module", r"peft\."),
    # The preference task's ORPO comes from trl.experimental on purpose (trl moved it there; the studio pins trl).
    (Warning, r"You are importing from 'trl\.experimental'", r""),
    # The ONNX export gives every input the same batch and sequence dimensions on purpose.
    (UserWarning, r"# The axis name: \w+ will not be used, since it shares the same shape constraints", r"torch\."),
    # torch's own pytree pickling (copyreg) during torch.export, not the studio's code.
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated", r""),
)


def quiet_warnings() -> None:
    """Silence the warnings in HARMLESS in this process (the CLI, the app, a run's worker, the tests)."""
    for category, message, module in HARMLESS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def summarise_load_report(text: str) -> str:
    """One line for transformers' LOAD REPORT table: what was newly initialised, unused or resized."""
    text = strip_ansi(text)
    source = re.search(r"LOAD REPORT\s+from:\s*(\S+)", text)
    by_status: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) >= 2 and cells[0] and cells[1] and cells[0] != "Key" and not set(cells[0]) <= set("-+"):
            by_status.setdefault(cells[1].split()[0].upper(), []).append(cells[0])
    parts = []
    missing = by_status.get("MISSING", [])
    if missing:
        head = all(k.split(".")[0] in HEADS for k in missing)
        parts.append(f"new {'classification head' if head else 'weights'}: {len(missing)} "
                     f"tensor{'s' if len(missing) != 1 else ''} initialised ({_names(missing)})")
    unexpected = by_status.get("UNEXPECTED", [])
    if unexpected:
        parts.append(f"{len(unexpected)} checkpoint tensor{'s' if len(unexpected) != 1 else ''} this model does not "
                     f"use ({_names(unexpected)})")
    resized = [k for status, keys in by_status.items() if status.startswith("MISMATCH") for k in keys]
    if resized:
        parts.append(f"{len(resized)} tensor{'s' if len(resized) != 1 else ''} re-initialised at a new size "
                     f"({_names(resized)})")
    where = f" from {source.group(1)}" if source else ""
    return f"[studio] loaded{where}: " + ("; ".join(parts) if parts else "as saved")


def _names(keys: list[str], shown: int = 3) -> str:
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


class _Tidy(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if any(q in msg for q in QUIET):
            return False
        if "LOAD REPORT" in msg:
            record.msg, record.args = summarise_load_report(msg), ()
        elif ANSI.search(msg):
            record.msg, record.args = strip_ansi(msg), ()
        return True


def install() -> None:
    """Tidy what transformers logs in this process (its handlers filter each record once)."""
    import transformers

    transformers.logging.get_logger()  # makes sure the library's handler exists
    for handler in logging.getLogger("transformers").handlers:
        if not any(isinstance(f, _Tidy) for f in handler.filters):
            handler.addFilter(_Tidy())
    for text in QUIET:
        warnings.filterwarnings("ignore", message=re.escape(text))
    quiet_warnings()
    # trl maps its datasets with progress bars ("Tokenizing train dataset: 100%|███|"); in train.log they are
    # noise between the studio's own lines.
    import datasets

    datasets.disable_progress_bars()
