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
    epochs: float = setting(3.0, "Passes over the training data.", zh="遍历训练数据的轮数。", min=0.01, max=1000)
    learning_rate: float | None = setting(None, "Peak learning rate; empty takes the method's default (higher for "
                                          "adapters than for full fine-tuning).",
                                          zh="峰值学习率；留空则使用方法的默认值（适配器方法比全量"
                                             "微调更高）。", min=1e-8, max=1.0)
    batch_size: int = setting(16, "Examples per device per step.", zh="每个设备每步的样本数。", min=1, max=4096)
    gradient_accumulation_steps: int = setting(1, "Steps whose gradients add up before one optimizer update "
                                               "(effective batch = batch_size x this).",
                                               zh="累积多少步的梯度后再更新一次优化器（有效批大小 = batch_size"
                                                  " × 此值）。", min=1, max=1024)
    max_length: int | None = setting(None, "Longest input in tokens; longer texts are truncated. Batches pad only "
                                     "to their own longest text. Empty: chosen from the data when the run is "
                                     "created, enough for 95% of the training records within what the model and "
                                     "the memory estimate allow (the data check shows the choice).",
                                     zh="输入的最大词元数；更长的文本会被截断。每个批次只填充到该批次中最长"
                                        "的文本。留空：创建训练时按数据选取，在模型和内存估算允许的范围内让 95% 的"
                                        "训练记录能完整放下（数据检查会显示选了多少）。", min=8, max=32768)
    warmup_ratio: float = setting(0.06, "Share of the steps spent warming the learning rate up from zero.",
                                  zh="学习率从零开始预热所占的步数比例。",
                                  min=0.0, max=0.5)
    scheduler: str = setting("linear", "How the learning rate decays after warm-up.",
                             zh="预热结束后学习率的衰减方式。", choices=SCHEDULERS)
    weight_decay: float = setting(0.01, "AdamW weight decay.", zh="AdamW 的权重衰减。", min=0.0, max=1.0)
    seed: int = setting(42, "Seed for initialisation, shuffling and dropout.",
                        zh="初始化、打乱顺序和 dropout 使用的随机种子。", min=0)
    precision: str = setting("auto", "Number format: auto picks bf16 or fp16 on a GPU that supports it and fp32 on "
                             "CPU.",
                             zh="数值格式：auto 在支持的 GPU 上选用 bf16 或 fp16，在 CPU 上"
                                "用 fp32。", choices=PRECISIONS)
    eval_strategy: str = setting("epoch", "Evaluate after every epoch, or every eval_steps steps.",
                                 zh="每轮结束后评估，或每隔 eval_steps 步评估一次。",
                                 choices=EVAL_STRATEGIES)
    eval_steps: int | None = setting(None, "Steps between evaluations when eval_strategy is 'steps'.",
                                     zh="eval_strategy 为 'steps' 时两次评估之间的步数。", min=1)
    logging_steps: int = setting(10, "Steps between training-loss log lines (and live plot points).",
                                 zh="两次记录训练损失（以及实时图表上的点）之间的步数。", min=1)
    early_stopping_patience: int | None = setting(None, "Stop after this many evaluations without improvement of "
                                                  "best_metric; empty disables.",
                                                  zh="连续这么多次评估 best_metric 都没有提升就停止训练；"
                                                     "留空则不提前停止。", min=1)
    best_metric: str | None = setting(None, "Validation metric that picks the best checkpoint; empty takes the task's "
                                      "default (macro F1 for classification, entity F1 for NER, loss for SFT and "
                                      "preference, chrF for seq2seq).",
                                      zh="用来挑选最佳检查点的验证指标；留空则用任务的默认指标（分类用 macro F1，"
                                         "NER 用实体 F1，SFT 和偏好微调用损失，seq2seq 用"
                                         " chrF）。", choices=BEST_METRICS)
    save_total_limit: int = setting(2, "Checkpoints kept on disk (the best one is always kept).",
                                    zh="磁盘上保留的检查点数量（最佳检查点总会保留）。", min=1, max=100)
    group_by_length: bool = setting(True, "Batch texts of similar length together so less padding is computed.",
                                    zh="把长度相近的文本放进同一批次，减少填充带来的计算。")
    gradient_checkpointing: bool = setting(False, "Keep only each layer's input during the forward pass and recompute "
                                           "the rest in the backward pass: far less activation memory for about a "
                                           "third more time per step. Turn on when a run does not fit.",
                                           zh="前向传播时只保留每层的输入，反向传播时重新计算其余部分："
                                              "激活值显存大幅减少，每步时间约多三分之一。运行放不下时开启。")
    attention: str = setting("auto", "Attention kernel: auto takes flash-attention 2 where it is installed and the "
                             "GPU can run it (Ampere or later, bf16/fp16), else PyTorch's SDPA; eager is the plain "
                             "one (slow; for architectures the others do not support).",
                             zh="注意力内核：auto 在已安装 flash-attention 2 且 GPU 支持时（Ampere 或更新架构，"
                                "bf16/fp16）使用它，否则用 PyTorch 的 SDPA；eager 是最朴素的实现（较慢；"
                                "用于其他内核不支持的架构）。", choices=ATTENTIONS)
    optimizer: str = setting("adamw", "AdamW as the Trainer runs it (PyTorch's), or with 8-bit states from "
                             "bitsandbytes (a quarter of the optimizer's memory; paged: its states move to CPU memory "
                             "when the GPU runs short). The 8-bit ones need a CUDA GPU and bitsandbytes.",
                             zh="Trainer 自带的 AdamW（PyTorch 实现），或使用 bitsandbytes 的 8 位状态（优化器显存只需"
                                "四分之一；paged：GPU 显存不足时状态移到 CPU 内存）。8 位优化器需要 CUDA GPU 和"
                                " bitsandbytes。",
                             choices=OPTIMIZERS)
    liger_kernels: bool = setting(False, "Liger's fused Triton kernels (RMSNorm, RoPE, SwiGLU, a cross-entropy that "
                                  "never holds the whole vocabulary's logits) for the architectures Liger knows: less "
                                  "memory and faster steps on a GPU. Needs liger-kernel and a CUDA GPU.",
                                  zh="Liger 的融合 Triton 内核（RMSNorm、RoPE、SwiGLU，以及从不保存整个词表 logits 的交"
                                     "叉熵），用于 Liger 支持的架构：在 GPU 上更省显存、每步更快。需要 liger-kernel 和 "
                                     "CUDA GPU。")
    ignore_memory_estimate: bool = setting(False, "Start the run even when its memory estimate says it cannot fit "
                                           "(the estimate can be wrong: offloading, custom kernels, an unusual "
                                           "architecture). Off: such a run is refused before it exists, with the "
                                           "changes that would make it fit.",
                                           zh="即使显存估算认为放不下也启动运行（估算可能有误：卸载、自定义内核、"
                                              "少见的架构）。关闭时：这样的运行在创建前就会被拒绝，"
                                              "并给出能让它放下的修改建议。")
    score_base: bool = setting(True, "Also score the untrained base on the test split (cached per base model and "
                               "split), so the report shows whether fine-tuning helped; turn off for large bases, "
                               "where generating on the test split takes long.",
                               zh="同时在测试集上为未训练的基础模型打分（按基础模型和划分缓存），"
                                  "让报告显示微调是否有帮助；基础模型很大时请关闭，因为在测试集上生成很耗时。")
    device: str = setting("auto", "Where to train: auto (GPU when present), cpu, cuda or cuda:N. Runs on one device "
                          "train one at a time.",
                          zh="在哪里训练：auto（有 GPU 时用 GPU）、cpu、cuda 或 cuda:N。同一设备上的运行一次训练一个。")
    num_processes: int = setting(1, "Processes training together, one per GPU (or CPU process); more than 1 launches "
                                 "the run with accelerate (data-parallel). Across several machines this is the total "
                                 "over all of them.",
                                 zh="一起训练的进程数，每个 GPU（或 CPU 进程）一个；大于 1 时用 accelerate 启动运行（数"
                                    "据并行）。跨多台机器时，这是所有机器的总数。", min=1, max=1024)
    distributed: str = setting("ddp", "How several processes share the work: ddp copies the model to each; fsdp and "
                               "deepspeed shard it (GPU only, deepspeed must be installed). Used only when "
                               "num_processes or num_machines is above 1.",
                               zh="多个进程如何分担工作：ddp 在每个进程复制一份模型；fsdp 和 deepspeed 把模型分片（仅限"
                                  " GPU，deepspeed 需要安装）。只在 num_processes 或"
                                  " num_machines 大于 1 时使用。", choices=DISTRIBUTED)
    num_machines: int = setting(1, "Machines training this run together; above 1, start the other machines' share "
                                "with `python -m studio.runs.distributed join RUN_DIR --machine-rank K` (the runs "
                                "folder must be shared); on a Ray cluster (--ray), Ray Train spreads the processes "
                                "over this many nodes itself.",
                                zh="一起训练此运行的机器数；大于 1 时，用 `python -m studio.runs.distributed join"
                                   " RUN_DIR --machine-rank K` 启动其他机器的部分（运行文"
                                   "件夹必须共享）；在 Ray 集群上（--ray），由 Ray Train 自行把进程分布到这么多节点。",
                                min=1, max=1024)
    main_process_ip: str | None = setting(None, "Several machines: the address of machine 0 (the one running the "
                                          "studio), which the others dial.",
                                          zh="多台机器：0 号机器（运行工作室的那台）的地址，其他机器会连接它。")
    main_process_port: int | None = setting(None, "Port of the processes' rendezvous on machine 0; empty picks a free "
                                            "one (several machines need it set).",
                                            zh="0 号机器上进程汇合的端口；留空则自动选择空闲端口（多台机器"
                                               "时必须设置）。", min=1, max=65535)
    cluster_cpus: float = setting(1.0, "On a Ray cluster (the studio started with --ray): CPUs each process of the "
                                  "run asks the cluster for; Ray places the run on a node that has them free.",
                                  zh="在 Ray 集群上（以 --ray 启动工作室时）：运行的每个进程向集群申请的 CPU 数；"
                                     "Ray 会把运行放到有这么多空闲 CPU 的节点上。", min=0.0, max=1024.0)
    cluster_resources: str = setting("", "On a Ray cluster: custom resources each process of the run asks for, as "
                                     "name:amount pairs separated by commas (e.g. 'a100_pool:1'); the nodes that "
                                     "offer them are started with `ray start --resources`.",
                                     zh="在 Ray 集群上：运行的每个进程申请的自定义资源，写成用逗号分隔的 名称:数量（如 "
                                        "'a100_pool:1'）；提供这些资源的节点用 `ray start --resources` 启动。")
    accelerator_type: str = setting("", "On a Ray cluster: the GPU type the run's processes need, as Ray names it "
                                    "(e.g. A100, H100, L4); empty takes any GPU.",
                                    zh="在 Ray 集群上：运行的进程需要的 GPU 型号，按 Ray 的写法（如 A100、H100、L4）；"
                                       "留空则任何 GPU 都可以。")
    tensorboard: bool = setting(True, "Write TensorBoard event files into the run's tensorboard folder (open with "
                                "`tensorboard --logdir`).",
                                zh="把 TensorBoard 事件文件写入运行的 tensorboard 文件夹（用 `tensorboard --logdir` 打"
                                   "开）。")
    wandb: bool = setting(False, "Also log to Weights & Biases (needs the wandb package and a `wandb login`).",
                          zh="同时记录到 Weights & Biases（需要 wandb 包并执行 `wandb login`）。")
    wandb_project: str | None = setting(None, "Weights & Biases project; empty uses wandb's default (WANDB_PROJECT or "
                                        "'huggingface').",
                                        zh="Weights & Biases 项目；留空则使用 wandb 的默认值（WANDB_PROJECT 或"
                                           " 'huggingface'）。")


# Settings that were training fields before each task had its own (a saved config.json may still hold them).
MOVED_TO_TASK_ARGS = ("head_init", "max_new_tokens", "max_target_length", "sample_prompts", "preference_loss", "beta",
                      "dpo_loss_type")
