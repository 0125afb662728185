"""The device check: the studio's SFT against a plain TRL SFTTrainer script on one GPU, and the memory estimate's
error per method, in one script that fits the lent GPU machine (no network, no ../shared, wheels under 64 MiB).

    bash bench/device_check.sh               # on the GPU machine: every row, under 8 minutes on one H100
    bash bench/device_check.sh --dry-run     # CPU, tiny shapes, a few steps: the same code end to end (the suite)

Models: real architectures with random weights, built from their published configs here (speed and memory
depend on the shapes, not the values): Qwen2.5-0.5B and Qwen2.5-1.5B (Qwen2) and Llama-3.2-1B (Llama). Data:
synthetic single-turn conversations of varied length (prompts up to 40% of max_length in words, answers up
to 25%) and a byte-level BPE tokenizer trained on them with a ChatML template, all made by this script. Nothing
comes from the network or ../shared.

Fair by construction: each row runs the studio first (its real path: Store.create, its checks and memory
estimate, studio.training.recipe.run, in a fresh process), records what it actually trained with (the
Trainer's arguments, the adapter config, the adapters' dtype, the attention kernel, the quantization config, the
number of optimizer steps), and the TRL script then trains with exactly those, on the same rows, for the same
number of optimizer steps (TRL's own defaults differ: it turns gradient checkpointing on and casts a quantized
base's adapters to bf16; here both follow the studio's settings, which the JSON shows). Both are timed the same
way: from the end of optimizer step WARMUP to the end of the last step (train() alone; the studio's evaluation,
test scoring and saving are outside), counting the tokens the model's forward receives (no padding). Peak
memory: torch.cuda.max_memory_allocated and _reserved at the end of the last step, each run in its own process.
Studio rows also give the memory estimate made before launch and its error against the run's measured peak
(the studio's own figure, status.json memory_error).

Every row's result is one JSON line; the end prints a table and writes device_check.json (device_check_dry.json
for --dry-run) to --out ($OUT on the device machine, else bench/results). The exit status is 1 when a row failed
or a check did not hold: every planned row ran or says why not, tokens/s > 0, final losses finite, TRL ran the
studio's number of steps with the studio's settings, and the studio's code that ran imports nothing the device
machine lacks and the carried wheels do not bring.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024 ** 3

# Published configs (hidden, layers, heads, kv heads, intermediate, vocabulary, tied embeddings, rope theta).
SHAPES = {
    "qwen2-0.5b": ("qwen2", 896, 24, 14, 2, 4864, 151936, True, 1e6),        # Qwen2.5-0.5B
    "qwen2-1.5b": ("qwen2", 1536, 28, 12, 2, 8960, 151936, True, 1e6),       # Qwen2.5-1.5B
    "llama-1b": ("llama", 2048, 16, 32, 8, 8192, 128256, True, 5e5),         # Llama-3.2-1B
    "tiny-qwen2": ("qwen2", 64, 2, 4, 2, 128, 4096, True, 1e6),
    "tiny-llama": ("llama", 64, 2, 4, 2, 128, 4096, False, 5e5),
}


@dataclass(frozen=True)
class Row:
    """One measured configuration: the studio's run, and TRL's beside it where `trl`."""

    name: str
    shape: str
    method: str
    batching: str = "padded"
    trl: bool = True
    needs_cuda: bool = False


# In order of importance: a run out of time drops rows from the end.
GPU_PLAN = [
    Row("lora", "qwen2-0.5b", "lora"),
    Row("lora packed", "qwen2-0.5b", "lora", "packed"),
    Row("qlora", "qwen2-0.5b", "qlora", needs_cuda=True),
    Row("lora", "qwen2-1.5b", "lora"),
    Row("qlora", "qwen2-1.5b", "qlora", needs_cuda=True),
    Row("lora", "llama-1b", "lora"),
    # The memory estimate per method (the studio alone).
    Row("full", "qwen2-0.5b", "full", trl=False),
    Row("freeze", "qwen2-0.5b", "freeze", trl=False),
    Row("dora", "qwen2-0.5b", "dora", trl=False),
    Row("ia3", "qwen2-0.5b", "ia3", trl=False),
]
# Each kind of row once, over both architectures: the studio beside TRL (packed, the path with most to get wrong;
# padded rows differ only in the batching setting), the studio alone, QLoRA (said to be skipped without CUDA).
DRY_PLAN = [
    Row("lora packed", "tiny-llama", "lora", "packed"),
    Row("qlora", "tiny-qwen2", "qlora", needs_cuda=True),
    Row("full", "tiny-qwen2", "full", trl=False),
]
GPU_SIZES = {"steps": 30, "batch": 8, "max_length": 512, "warmup": 5, "budget": 420}
DRY_SIZES = {"steps": 4, "batch": 2, "max_length": 64, "warmup": 1, "budget": 600}

# What the device machine has (its image's package list, /work/.library/device/KINDS.md) and what the carried
# wheels add (bench/device_check.sh): a run importing anything else would fail there.
DEVICE_HAS = set("""absl-py accelerate aiofiles aiohttp annotated-doc anyio attrs certifi charset-normalizer click
cloudpickle colorama contourpy cycler einops filelock fonttools fsspec h11 h5py hf-xet httpcore httpx huggingface-hub
idna jinja2 joblib kiwisolver markdown markdown-it-py markupsafe matplotlib mdurl ml-dtypes mpmath msgpack multidict
networkx numpy nvidia-ml-py onnx onnxruntime onnxscript packaging pandas peft pillow pip pluggy portalocker protobuf
psutil pyarrow pygments pyparsing python-dateutil pytz pyyaml regex requests rich sacrebleu safetensors scikit-learn
scipy sentencepiece setuptools six sympy tabulate tensorboard tensorboard-data-server threadpoolctl tiktoken
tokenizers torch tqdm transformers triton typing-extensions tzdata urllib3 werkzeug wheel wrapt xxhash yarl
zipp""".split())
CARRIED = {"trl", "datasets", "dill", "multiprocess", "bitsandbytes"}


# ------------------------------------------------------------------ inputs --
def words(rng: random.Random, n: int) -> list[str]:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(n)]


def conversations(n: int, longest: int, seed: int = 0) -> list[dict]:
    """Single-turn conversations of varied length over a Zipf-like vocabulary, sized so that every prompt fits
    in `longest` tokens with room for its answer (each truncates the way it was written: the studio and TRL then
    train on the same answer tokens); each answer restates some of its prompt's words, so there is something to
    learn."""
    rng = random.Random(seed)
    vocab = words(rng, 3000)
    weights = [1 / (i + 1) for i in range(len(vocab))]
    most_prompt, most_answer = max(int(longest * 0.4), 12), max(int(longest * 0.25), 6)
    rows = []
    for _ in range(n):
        prompt = rng.choices(vocab, weights, k=rng.randint(most_prompt // 3, most_prompt))
        answer = rng.sample(prompt, min(len(prompt), rng.randint(most_answer // 3, most_answer)))
        rows.append({"messages": [{"role": "user", "content": " ".join(prompt)},
                                  {"role": "assistant", "content": " ".join(answer)}]})
    return rows


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
          "{% endif %}")


def make_tokenizer(texts: list[str], vocab_size: int, folder: Path) -> None:
    """A byte-level BPE trained on the data, with ChatML's special tokens and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None, model_max_length=32768)
    fast.chat_template = CHATML
    fast.save_pretrained(folder)


def write_inputs(work: Path, sizes: dict) -> None:
    """Train, validation and test files (JSONL, the studio's chat shape) and the tokenizer, once per check."""
    if (work / "tokenizer" / "tokenizer.json").exists():
        return
    rows = conversations(sizes["steps"] * sizes["batch"] * 4 + 16, sizes["max_length"])
    valid, test, train = rows[:8], rows[8:16], rows[16:]
    for name, part in (("train", train), ("validation", valid), ("test", test)):
        (work / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
    texts = [m["content"] for r in rows for m in r["messages"]]
    make_tokenizer(texts, 4000, work / "tokenizer")


def build_model(shape: str, folder: Path, tokenizer: Path) -> None:
    """The shape with random weights (bf16 on a GPU, fp32 on a CPU), with the check's tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if (folder / "config.json").exists():
        return
    arch, hidden, layers, heads, kv, inter, vocab, tied, theta = SHAPES[shape]
    tok = AutoTokenizer.from_pretrained(tokenizer)
    config = AutoConfig.for_model(arch, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                                  num_key_value_heads=kv, intermediate_size=inter, vocab_size=vocab,
                                  tie_word_embeddings=tied, rope_theta=theta, max_position_embeddings=32768,
                                  eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if cuda else torch.float32
    torch.manual_seed(0)
    with torch.device("cuda" if cuda else "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


# ------------------------------------------------------------ measuring --
class Meter:
    """Times optimizer steps WARMUP+1..last, counts the tokens the model's forward receives while training in
    that window, reads peak memory at the last step and keeps the logged losses. The same object measures the
    studio's Trainer and TRL's."""

    def __init__(self, warmup: int):
        self.warmup, self.tokens, self.start, self.end, self.steps = warmup, 0, None, None, 0
        self.losses: list[float] = []
        self.peak: dict[str, float | None] = {}

    def attach(self, trainer) -> None:
        from transformers import TrainerCallback

        meter = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                meter.step_end(state.global_step, state.max_steps)

            def on_log(self, args, state, control, logs=None, **kw):
                if logs and "loss" in logs and math.isfinite(float(logs["loss"])):
                    meter.losses.append(float(logs["loss"]))
                elif logs and "loss" in logs:
                    meter.losses.append(float("nan"))

        trainer.add_callback(Callback())
        trainer.model.register_forward_pre_hook(self.count, with_kwargs=True)

    def count(self, module, args, kwargs) -> None:
        if self.start is None or self.end is not None or not module.training:
            return
        mask, ids = kwargs.get("attention_mask"), kwargs.get("input_ids")
        if mask is not None and mask.dim() == 2:
            self.tokens += int(mask.sum())
        elif ids is not None:  # flattened (padding-free, packed): every position is a token
            self.tokens += int(ids.numel())

    def step_end(self, step: int, max_steps: int) -> None:
        import torch

        if step == self.warmup:
            _sync()
            self.start = time.perf_counter()
        if step >= max_steps and self.end is None:
            _sync()
            self.end, self.steps = time.perf_counter(), step
            if torch.cuda.is_available():
                self.peak = {"peak_allocated_gib": round(torch.cuda.max_memory_allocated() / GIB, 2),
                             "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 2)}

    def result(self) -> dict:
        seconds = (self.end - self.start) if self.start is not None and self.end is not None else 0.0
        return {"steps": self.steps, "timed_steps": max(self.steps - self.warmup, 0), "seconds": round(seconds, 3),
                "tokens": self.tokens, "tokens_per_s": round(self.tokens / seconds) if seconds > 0 else 0,
                "final_loss": round(self.losses[-1], 4) if self.losses else None, **self.peak}


def _checkpointing(model) -> bool:
    """Whether the model recomputes activations (transformers 5.23 renamed the attribute; the device has 5.17)."""
    model = model.get_base_model() if hasattr(model, "get_base_model") else model
    for name in ("is_activation_checkpointing", "is_gradient_checkpointing"):
        if hasattr(type(model), name):
            return bool(getattr(model, name))
    return False


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StudioImports:
    """The distributions outside the standard library that the studio's code imports while this process runs
    (every import statement executed in a studio module, whether or not the module was loaded already): what the
    device machine must have. The libraries' own optional imports are theirs."""

    def __init__(self):
        import builtins

        self.names: set[str] = set()
        real = builtins.__import__

        def tracking(name, globals=None, locals=None, fromlist=(), level=0):
            module = real(name, globals, locals, fromlist, level)
            if not level and globals and str(globals.get("__name__", "")).startswith("studio"):
                self.names.add(name.split(".")[0])
            return module

        builtins.__import__ = tracking

    def distributions(self) -> list[str]:
        from importlib.metadata import packages_distributions

        owners = packages_distributions()
        return sorted({d.lower().replace("_", "-") for top in self.names
                       if top not in sys.stdlib_module_names and top not in ("studio", "__future__")
                       for d in owners.get(top, [top])})


# What the TRL script copies from the studio's Trainer arguments (where SFTConfig has the field).
COPIED_ARGS = ("per_device_train_batch_size", "gradient_accumulation_steps", "learning_rate", "lr_scheduler_type",
               "lr_scheduler_kwargs", "warmup_steps", "warmup_ratio", "weight_decay", "adam_beta1", "adam_beta2",
               "adam_epsilon", "max_grad_norm", "optim", "seed", "data_seed", "bf16", "fp16", "tf32",
               "activation_checkpointing", "activation_checkpointing_kwargs", "gradient_checkpointing",
               "gradient_checkpointing_kwargs", "group_by_length", "logging_steps",
               "torch_compile", "use_liger_kernel")


# --------------------------------------------------------------- children --
def child_studio(spec: dict) -> dict:
    """One studio run through its real path; records what it trained with for the TRL run."""
    from studio.base import runfolder
    from studio.config import RunConfig
    from studio.runs.store import Store
    from studio.training import recipe
    from studio.training.features import FEATURES

    work, out = Path(spec["work"]), Path(spec["row_dir"])
    meter, seen = Meter(spec["warmup"]), {}

    class Measure:
        name = "device-check"

        def before_train(self, run, trainer):
            meter.attach(trainer)
            args = trainer.args.to_dict()
            seen["args"] = {k: args[k] for k in COPIED_ARGS if k in args}
            if "activation_checkpointing" in seen["args"]:  # transformers 5.23 renamed them; older has the old names
                seen["args"].pop("gradient_checkpointing", None)
                seen["args"].pop("gradient_checkpointing_kwargs", None)
            model = trainer.model
            seen["attention"] = getattr(model.config, "_attn_implementation", None)
            trained = [p.dtype for p in model.parameters() if p.requires_grad]
            seen["trained_dtype"] = str(trained[0]).removeprefix("torch.") if trained else None
            seen["checkpointing"] = _checkpointing(model)
            seen["padding_free"] = bool(getattr(trainer.data_collator, "padding_free", False))
            if hasattr(model, "peft_config"):
                model.peft_config["default"].save_pretrained(str(out / "peft"))

    cfg = RunConfig.from_dict({
        "task": "sft", "model": spec["model"], "method": spec["method"],
        "task_args": {"batching": spec["batching"], "sample_prompts": 0, "max_new_tokens": 8},
        "data": {"train": str(work / "train.jsonl"), "validation": str(work / "validation.jsonl"),
                 "test": str(work / "test.jsonl")},
        "training": {"epochs": spec["epochs"], "batch_size": spec["batch"], "max_length": spec["max_length"],
                     "logging_steps": 1, "score_base": False, "tensorboard": False, "seed": 0,
                     "eval_strategy": "epoch", "save_total_limit": 1}})
    store = Store(out / "runs")
    run_id = store.create(cfg, start=False)
    run_dir = store.run_dir(run_id)
    final = recipe.run(run_dir, features=(*FEATURES, Measure()))
    status = {**(runfolder.read_status(run_dir) or {}), **final}
    estimate = (status.get("memory") or {}).get("total")
    got = {**meter.result(), "settings": seen, "formats": status.get("number_formats"),
           "estimate_gib": round(estimate / GIB, 2) if estimate else None,
           "run_peak_gib": round(status["peak_memory"]["bytes"] / GIB, 2) if status.get("peak_memory") else None,
           "memory_error": status.get("memory_error"), "train_file": str(runfolder.RunFolder(run_dir).data)}
    (out / "studio.json").write_text(json.dumps(got, indent=1))
    return got


def child_trl(spec: dict) -> dict:
    """The same run as a plain TRL script, with the settings the studio's run recorded."""
    import datasets
    import torch
    from peft import PeftConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from studio.training.precision import load_kwargs

    work, out = Path(spec["work"]), Path(spec["row_dir"])
    studio = json.loads((out / "studio.json").read_text())
    seen = studio["settings"]
    tok = AutoTokenizer.from_pretrained(spec["model"])
    # from_pretrained's arguments as the studio's run recorded its number formats (dtype, attention kernel, the
    # quantization config and where bitsandbytes puts the weights)
    kw = load_kwargs(studio["formats"])
    model = AutoModelForCausalLM.from_pretrained(spec["model"], **kw)
    rows = [json.loads(line) for line in (work / "train.jsonl").read_text().splitlines()]
    train = datasets.Dataset.from_list([{"prompt": r["messages"][:1], "completion": r["messages"][1:]} for r in rows])
    fields = set(SFTConfig.__dataclass_fields__)
    args = {k: v for k, v in seen["args"].items() if k in fields}
    conf = SFTConfig(output_dir=str(out / "trl"), max_steps=studio["steps"], max_length=spec["max_length"],
                     packing=spec["batching"] == "packed", save_strategy="no", eval_strategy="no", report_to="none",
                     dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(), **args)
    peft_config = PeftConfig.from_pretrained(str(out / "peft")) if (out / "peft").exists() else None
    trainer = SFTTrainer(model=model, args=conf, train_dataset=train, processing_class=tok, peft_config=peft_config)
    if seen.get("trained_dtype"):
        # TRL casts a quantized base's adapters to bf16; the studio keeps them in trained_dtype (the same
        # optimizer sees the same numbers).
        want = getattr(torch, seen["trained_dtype"])
        for p in trainer.model.parameters():
            if p.requires_grad and p.dtype != want:
                p.data = p.data.to(want)
    meter = Meter(spec["warmup"])
    meter.attach(trainer)
    trainer.train()
    used = {k: getattr(trainer.args, k) for k in args}
    trained = [p.dtype for p in trainer.model.parameters() if p.requires_grad]
    return {**meter.result(), "settings": {"args": used, "trained_dtype": str(trained[0]).removeprefix("torch."),
                                           "attention": model.config._attn_implementation,
                                           "checkpointing": _checkpointing(trainer.model),
                                           "padding_free": bool(getattr(trainer, "padding_free", False))}}


def child(kind: str, spec: dict) -> int:
    imports = StudioImports()
    if kind == "build":
        build_model(spec["shape"], Path(spec["model"]), Path(spec["work"]) / "tokenizer")
        got: dict = {}
    else:
        got = (child_studio if kind == "studio" else child_trl)(spec)
    if kind == "studio":
        got["imports"] = imports.distributions()
    print("RESULT " + json.dumps(got), flush=True)
    return 0


# ----------------------------------------------------------------- parent --
def run_child(kind: str, spec: dict, timeout: float) -> dict:
    """A fresh process per run, so each peak is its own; its output goes to the row's log."""
    log = Path(spec["row_dir"]) / f"{kind}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with open(log, "w", encoding="utf-8") as f:
        try:
            proc = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(spec)], stdout=subprocess.PIPE,
                                  stderr=f, text=True, timeout=max(timeout, 30), cwd=ROOT)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s (log: {log})"}
    f_out = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not f_out:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-8:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)[-900:]}
    got = json.loads(f_out[-1][len("RESULT "):])
    got["wall_s"] = round(time.time() - started, 1)
    return got


def checks(row: Row, studio: dict, trl: dict | None) -> list[str]:
    """What must hold of a row; each failure in one sentence."""
    bad = []
    for who, got in (("studio", studio), ("trl", trl)):
        if got is None:
            continue
        if "error" in got:
            bad.append(f"{who}: {got['error']}")
            continue
        if got["tokens_per_s"] <= 0:
            bad.append(f"{who}: no tokens timed ({got['steps']} steps, warm-up excluded)")
        if got["final_loss"] is None or not math.isfinite(got["final_loss"]):
            bad.append(f"{who}: final loss {got['final_loss']}")
        missing = sorted(set(got.get("imports", [])) - DEVICE_HAS - CARRIED)
        if missing:
            bad.append(f"{who} imported what the device machine lacks and no wheel brings: {', '.join(missing)}")
    if trl and studio and "error" not in trl and "error" not in studio:
        if trl["steps"] != studio["steps"]:
            bad.append(f"TRL ran {trl['steps']} optimizer steps, the studio {studio['steps']}")
        s, t = studio["settings"], trl["settings"]
        differ = {k: (v, t["args"].get(k)) for k, v in s["args"].items() if k in t["args"] and t["args"][k] != v}
        if differ:
            bad.append(f"settings differ (studio, trl): {differ}")
        for what in ("attention", "checkpointing"):
            if s.get(what) != t.get(what):
                bad.append(f"{what}: {s.get(what)} (studio), {t.get(what)} (trl)")
        if s["trained_dtype"] != t["trained_dtype"]:
            bad.append(f"trained weights in {s['trained_dtype']} (studio) and {t['trained_dtype']} (trl)")
    return bad


def table(results: list[dict]) -> str:
    head = (f"{'row':26} {'who':6} {'steps':>5} {'tokens/s':>9} {'alloc GiB':>9} {'resv GiB':>8} {'loss':>7} "
            f"{'est GiB':>7} {'est err':>7}")
    lines = [head, "-" * len(head)]
    for r in results:
        if "error" in r or "skipped" in r:
            lines.append(f"{r['row']:26} {r['who']:6} {r.get('skipped') or 'FAILED: ' + r['error'][:60]}")
            continue
        err = r.get("memory_error")
        lines.append(f"{r['row']:26} {r['who']:6} {r['steps']:5d} {r['tokens_per_s']:9d} "
                     f"{r.get('peak_allocated_gib') or 0:9.2f} {r.get('peak_reserved_gib') or 0:8.2f} "
                     f"{r['final_loss'] if r['final_loss'] is not None else float('nan'):7.3f} "
                     f"{r.get('estimate_gib') or 0:7.2f} {'' if err is None else f'{err:+.0%}':>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny shapes, a few steps: the code end to end")
    ap.add_argument("--only", help="comma-separated row names ('lora', 'qlora', 'lora packed', 'full', ...)")
    ap.add_argument("--shapes", help=f"comma-separated shapes of {sorted(SHAPES)} (default: the plan's)")
    ap.add_argument("--steps", type=int, help="optimizer steps per run")
    ap.add_argument("--budget", type=float, help="seconds; rows that would end past it are skipped, and said")
    ap.add_argument("--out", help="folder for the JSON (default $OUT, else bench/results)")
    ap.add_argument("--work", help="folder for models, data and runs (default a temporary one)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child(a.child[0], json.loads(a.child[1]))

    import torch

    sizes = dict(DRY_SIZES if a.dry_run else GPU_SIZES)
    sizes["steps"] = a.steps or sizes["steps"]
    sizes["budget"] = a.budget or sizes["budget"]
    cuda = torch.cuda.is_available()
    if not cuda and not a.dry_run:
        print("no CUDA GPU here: run with --dry-run for the CPU check", file=sys.stderr)
        return 2
    plan = DRY_PLAN if a.dry_run else GPU_PLAN
    plan = [r for r in plan if (not a.only or r.name in a.only.split(","))
            and (not a.shapes or r.shape in a.shapes.split(","))]
    work = Path(a.work or tempfile.mkdtemp(prefix="device-check-"))
    work.mkdir(parents=True, exist_ok=True)
    out = Path(a.out or os.environ.get("OUT") or ROOT / "bench" / "results")
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    write_inputs(work, sizes)
    machine = torch.cuda.get_device_name(0) if cuda else f"CPU ({os.cpu_count()} cores)"
    versions = {m: __import__(m).__version__ for m in ("torch", "transformers", "peft", "accelerate", "trl",
                                                       "datasets")}
    print(f"device check on {machine}; python {platform.python_version()}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
    n_train = sum(1 for _ in open(work / "train.jsonl", encoding="utf-8"))
    results: list[dict] = []
    failures: list[str] = []
    durations: list[float] = []
    built: dict[str, dict] = {}
    for i, row in enumerate(plan):
        label = f"{row.shape} {row.name}"
        base = {"row": label, "shape": row.shape, "method": row.method, "batching": row.batching}
        if row.needs_cuda and not cuda:
            reason = "skipped: bitsandbytes quantizes on a CUDA GPU, none here"
            print(f"{label}: {reason}", flush=True)
            results.append({**base, "who": "studio", "skipped": reason})
            continue
        left = sizes["budget"] - (time.time() - started)
        expected = (sum(durations) / len(durations)) if durations else 0
        if expected > left:
            reason = f"skipped: {left:.0f} s of the {sizes['budget']:.0f} s budget left, a row takes ~{expected:.0f} s"
            print(f"{label}: {reason}", flush=True)
            results.append({**base, "who": "studio", "skipped": reason})
            continue
        t0 = time.time()
        model = work / "models" / row.shape
        if row.shape not in built and not cuda:  # a tiny CPU model: built here, without a process of its own
            build_model(row.shape, model, work / "tokenizer")
            built[row.shape] = {}
        if row.shape not in built:  # on the GPU in a process of its own, so no run's peak includes it
            built[row.shape] = run_child("build", {"shape": row.shape, "model": str(model), "work": str(work),
                                                   "row_dir": str(work / "models")}, left)
        spec = {"work": str(work), "model": str(model), "method": row.method, "batching": row.batching,
                "batch": sizes["batch"], "max_length": sizes["max_length"], "warmup": sizes["warmup"],
                "row_dir": str(work / f"row{i}"),
                # packed rows hold about three conversations, so the studio runs about as many steps either way
                "epochs": sizes["steps"] * sizes["batch"] * (3 if row.batching == "packed" else 1) / n_train}
        if "error" in built[row.shape]:
            studio, trl = {"error": "building the model: " + built[row.shape]["error"]}, None
        else:
            studio = run_child("studio", spec, left)
            trl = run_child("trl", spec, left - (time.time() - t0)) if row.trl and "error" not in studio else None
        for who, got in (("studio", studio), ("trl", trl)):
            if got is not None:
                results.append({**base, "who": who, **got})
                print(json.dumps(results[-1]), flush=True)
        bad = checks(row, studio, trl)
        failures += [f"{label}: {b}" for b in bad]
        durations.append(time.time() - t0)
    report = {"machine": machine, "python": platform.python_version(), **versions, "sizes": sizes,
              "dry_run": a.dry_run, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "seconds": round(time.time() - started), "failures": failures, "results": results}
    path = out / ("device_check_dry.json" if a.dry_run else "device_check.json")
    path.write_text(json.dumps(report, indent=1))
    print(table(results))
    print(f"{len(results)} results in {report['seconds']} s on {machine}; written to {path}")
    for f in failures:
        print(f"CHECK FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
