"""The training section of a run config: the optimisation and launch settings every task shares.

A task's own settings (a preference loss, a generation length) are the task's (Task.settings, cfg.task_args).
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import setting
from studio.tasks import all_tasks

SCHEDULERS = ("linear", "cosine", "constant")
ATTENTIONS = ("auto", "sdpa", "flash_attention_2", "eager")
OPTIMIZERS = ("adamw", "adamw_8bit", "paged_adamw_8bit")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
EVAL_STRATEGIES = ("epoch", "steps")
DISTRIBUTED = ("ddp", "fsdp", "deepspeed")
# Validation metrics a run can be selected on; each task accepts its own subset (Task.metrics.best).
BEST_METRICS = tuple(dict.fromkeys(m for t in all_tasks() for m in t.metrics.best))


@dataclass
class TrainingConfig:
    epochs: float = setting(3.0, "Passes over the training data.", min=0.01, max=1000)
    learning_rate: float | None = setting(None, "Peak learning rate; empty takes the method's default (higher for "
                                          "adapters than for full fine-tuning).", min=1e-8, max=1.0)
    batch_size: int = setting(16, "Examples per device per step.", min=1, max=4096)
    gradient_accumulation_steps: int = setting(1, "Steps whose gradients add up before one optimizer update "
                                               "(effective batch = batch_size x this).", min=1, max=1024)
    max_length: int = setting(128, "Longest input in tokens; longer texts are truncated. Batches pad only to their "
                              "own longest text.", min=8, max=32768)
    warmup_ratio: float = setting(0.06, "Share of the steps spent warming the learning rate up from zero.",
                                  min=0.0, max=0.5)
    scheduler: str = setting("linear", "How the learning rate decays after warm-up.", choices=SCHEDULERS)
    weight_decay: float = setting(0.01, "AdamW weight decay.", min=0.0, max=1.0)
    seed: int = setting(42, "Seed for initialisation, shuffling and dropout.", min=0)
    precision: str = setting("auto", "Number format: auto picks bf16 or fp16 on a GPU that supports it and fp32 on "
                             "CPU.", choices=PRECISIONS)
    eval_strategy: str = setting("epoch", "Evaluate after every epoch, or every eval_steps steps.",
                                 choices=EVAL_STRATEGIES)
    eval_steps: int | None = setting(None, "Steps between evaluations when eval_strategy is 'steps'.", min=1)
    logging_steps: int = setting(10, "Steps between training-loss log lines (and live plot points).", min=1)
    early_stopping_patience: int | None = setting(None, "Stop after this many evaluations without improvement of "
                                                  "best_metric; empty disables.", min=1)
    best_metric: str | None = setting(None, "Validation metric that picks the best checkpoint; empty takes the task's "
                                      "default (macro F1 for classification, entity F1 for NER, loss for SFT and "
                                      "preference, chrF for seq2seq).", choices=BEST_METRICS)
    save_total_limit: int = setting(2, "Checkpoints kept on disk (the best one is always kept).", min=1, max=100)
    group_by_length: bool = setting(True, "Batch texts of similar length together so less padding is computed.")
    gradient_checkpointing: bool = setting(False, "Keep only each layer's input during the forward pass and recompute "
                                           "the rest in the backward pass: far less activation memory for about a "
                                           "third more time per step. Turn on when a run does not fit.")
    attention: str = setting("auto", "Attention kernel: auto takes flash-attention 2 where it is installed and the "
                             "GPU can run it (Ampere or later, bf16/fp16), else PyTorch's SDPA; eager is the plain "
                             "one (slow; for architectures the others do not support).", choices=ATTENTIONS)
    optimizer: str = setting("adamw", "AdamW as the Trainer runs it (PyTorch's), or with 8-bit states from "
                             "bitsandbytes (a quarter of the optimizer's memory; paged: its states move to CPU memory "
                             "when the GPU runs short). The 8-bit ones need a CUDA GPU and bitsandbytes.",
                             choices=OPTIMIZERS)
    liger_kernels: bool = setting(False, "Liger's fused Triton kernels (RMSNorm, RoPE, SwiGLU, a cross-entropy that "
                                  "never holds the whole vocabulary's logits) for the architectures Liger knows: less "
                                  "memory and faster steps on a GPU. Needs liger-kernel and a CUDA GPU.")
    ignore_memory_estimate: bool = setting(False, "Start the run even when its memory estimate says it cannot fit "
                                           "(the estimate can be wrong: offloading, custom kernels, an unusual "
                                           "architecture). Off: such a run is refused before it exists, with the "
                                           "changes that would make it fit.")
    score_base: bool = setting(True, "Also score the untrained base on the test split (cached per base model and "
                               "split), so the report shows whether fine-tuning helped; turn off for large bases, "
                               "where generating on the test split takes long.")
    device: str = setting("auto", "Where to train: auto (GPU when present), cpu, cuda or cuda:N. Runs on one device "
                          "train one at a time.")
    num_processes: int = setting(1, "Processes training together, one per GPU (or CPU process); more than 1 launches "
                                 "the run with accelerate (data-parallel). Across several machines this is the total "
                                 "over all of them.", min=1, max=1024)
    distributed: str = setting("ddp", "How several processes share the work: ddp copies the model to each; fsdp and "
                               "deepspeed shard it (GPU only, deepspeed must be installed). Used only when "
                               "num_processes or num_machines is above 1.", choices=DISTRIBUTED)
    num_machines: int = setting(1, "Machines training this run together; above 1, start the other machines' share "
                                "with `python -m studio.runs.distributed join RUN_DIR --machine-rank K` (the runs "
                                "folder must be shared).", min=1, max=1024)
    main_process_ip: str | None = setting(None, "Several machines: the address of machine 0 (the one running the "
                                          "studio), which the others dial.")
    main_process_port: int | None = setting(None, "Port of the processes' rendezvous on machine 0; empty picks a free "
                                            "one (several machines need it set).", min=1, max=65535)
    tensorboard: bool = setting(True, "Write TensorBoard event files into the run's tensorboard folder (open with "
                                "`tensorboard --logdir`).")
    wandb: bool = setting(False, "Also log to Weights & Biases (needs the wandb package and a `wandb login`).")
    wandb_project: str | None = setting(None, "Weights & Biases project; empty uses wandb's default (WANDB_PROJECT or "
                                        "'huggingface').")


# Settings that were training fields before each task had its own (a saved config.json may still hold them).
MOVED_TO_TASK_ARGS = ("head_init", "max_new_tokens", "max_target_length", "sample_prompts", "preference_loss", "beta",
                      "dpo_loss_type")
