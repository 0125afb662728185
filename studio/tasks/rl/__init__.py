"""Reinforcement learning of a chat model with rewards the person picks (GRPO, through trl's GRPOTrainer).

Records are prompts: a prompt field holding text or chat messages that end with the user's turn (a chat ending
with the assistant's turn gives that turn as the reference answer), and, for rewards that read one, a reference
answer (answer, solution, reference, target). For each prompt the model writes task_args.num_generations
replies; the rewards score them; replies better than their group's average are made likelier.

Splits are DataFrames with three columns: text (the last user turn), prompt (the conversation as JSON messages)
and reference ("" where a record has none).

Rooms: data, model, tokens (trl's prompt rows), training (trl's GRPO trainer), report, predict; the rewards are
in rewards.py; what chat tasks share is studio.tasks.chat.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import setting
from studio.base.text import Text
from studio.methods import METHODS
from studio.tasks.base import TEXT, DataFacts, MetricFacts, ModelFacts, PredictionRows, Task, TaskTexts
from studio.tasks.chat import ChatCard, ChatPlayground, StreamedChat
from studio.tasks.rl.data import bars, check_run, count_tokens, length_series, prepare_data
from studio.tasks.rl.model import load_model, load_tokenizer
from studio.tasks.rl.predict import predict as predict_inputs
from studio.tasks.rl.report import test_report
from studio.tasks.rl.rewards import DEFAULT_FORMAT, REWARDS, reward_names
from studio.tasks.rl.tokens import collator, tokenize
from studio.tasks.rl.training import judged_parts, run_callbacks, steps_per_generation, trainer_parts

GRPO_LOSSES = ("dapo", "grpo", "dr_grpo", "bnpo")
REWARD_METRICS = tuple(f"reward_{name}" for name in REWARDS)  # each reward's mean, as trl logs it (renamed)


@dataclass
class Settings:
    """The settings reinforcement learning alone reads (cfg.task_args)."""

    rewards: str = setting("answer,format", "The rewards that score each reply, comma-separated: "
                           + " ".join(f"{name}: {r.help.en}" for name, r in REWARDS.items()),
                           zh="为每个回复打分的奖励，逗号分隔："
                              + "".join(f"{name}：{r.help.zh}" for name, r in REWARDS.items()),
                           joined=True, label=Text("Rewards", "奖励"))
    reward_weights: str = setting("", "How much each reward counts in the total, in the rewards' order (for example "
                                  "1, 0.5); empty: all count the same.",
                                  zh="每个奖励在总分中的权重，按奖励的顺序（例如 1, 0.5）；留空：全部相同。",
                                  joined=True, label=Text("Reward weights", "奖励权重"))
    format_pattern: str = setting(DEFAULT_FORMAT, "The format reward's regular expression, searched in each reply "
                                  "(the default: a line that starts with 'Answer:').",
                                  zh="格式奖励的正则表达式，在每个回复中查找（默认：一行以“Answer:”开头）。",
                                  label=Text("Format pattern", "格式模式"))
    length_target: int = setting(50, "The length reward's target, in words.", zh="长度奖励的目标词数。",
                                 min=1, max=10000, label=Text("Target length (words)", "目标长度（词）"))
    json_schema: str = setting("", "The JSON reward's schema (JSON Schema, as text); empty: any valid JSON scores 1.",
                               zh="JSON 奖励的 schema（JSON Schema 文本）；留空：任何有效的 JSON 都得 1 分。",
                               label=Text("JSON schema", "JSON schema"))
    classifier_run: str = setting("", "The classifier reward's judge: a finished text-classification run of this "
                                  "studio (its id, as the Runs tab lists it) that you may see.",
                                  zh="分类器奖励的评判：本工作室一个你能查看的已完成文本分类运行"
                                     "（其 ID，见“运行”页）。",
                                  label=Text("Classifier run", "分类器运行"))
    classifier_label: str = setting("", "The label of the classifier run whose probability scores a reply (for "
                                    "example polite, positive).",
                                    zh="分类器运行的一个标签，回复属于它的概率即为得分（例如 polite、positive）。",
                                    label=Text("Classifier label", "分类器标签"))
    reward_code: str = setting("", "The code reward's Python file (a path on the server; its source is kept in "
                               "the run). Only where the operator allows code: launch.py --allow-reward-code, never "
                               "under the public policy.",
                               zh="代码奖励的 Python 文件（服务器上的路径；其源码保存在运行中）。仅在管理员允许代码时"
                                  "可用：launch.py --allow-reward-code，公开策略下始终不可用。",
                               label=Text("Reward code file", "奖励代码文件"))
    reward_code_function: str = setting("reward", "The function of the reward file that scores: called as "
                                        "f(prompts, completions, **columns), it returns one number (or None) per "
                                        "reply.",
                                        zh="奖励文件中打分的函数：以 f(prompts, completions, **columns) 调用，"
                                           "为每个回复返回一个数（或 None）。",
                                        label=Text("Reward function", "奖励函数"))
    num_generations: int = setting(4, "Replies written per prompt at each step; each is scored against its group's "
                                   "average, so more replies compare better and cost more. training.batch_size counts "
                                   "replies; a batch smaller than a group is filled over several steps.",
                                   zh="每一步为每个提示写的回复数；每个回复与同组平均比较，回复越多比较越准，代价也越高。"
                                      "training.batch_size 按回复计数；小于一组的批次会分几步凑满。",
                                   min=2, max=64, label=Text("Replies per prompt", "每个提示的回复数"))
    max_new_tokens: int = setting(64, "Most tokens per reply, in training and in the test report (and by default in "
                                  "the playground); a reply cut there is counted in the clipped share.",
                                  zh="每个回复最多的词元数，训练和测试报告中都是（也是试用页的默认值）；在此被截断的回复"
                                     "计入截断比例。", min=1, max=8192,
                                  label=Text("Max new tokens", "最多生成词元数"))
    temperature: float = setting(1.0, "Sampling temperature of the replies in training: higher gives the group more "
                                 "different replies to compare.",
                                 zh="训练时回复的采样温度：越高，同组回复差异越大，越便于比较。",
                                 min=0.05, max=2.0, label=Text("Temperature", "温度"))
    kl_beta: float = setting(0.0, "How strongly the model is held near the base (the KL term; 0 leaves it out, as "
                             "recent GRPO work does, and skips the reference pass).",
                             zh="把模型拉向基础模型的力度（KL 项；0 表示不用，如近来的 GRPO 做法，"
                                "也省去参考模型的计算）。",
                             min=0.0, max=10.0, label=Text("KL weight (beta)", "KL 权重（beta）"))
    grpo_loss: str = setting("dapo", "How the loss averages over tokens: dapo (over all tokens of the batch: long "
                             "replies are not favoured), grpo (per reply, then over replies), dr_grpo (over a fixed "
                             "length: no length bias) or bnpo (over the tokens of each process's batch).",
                             zh="损失如何在词元上平均：dapo（在整批的全部词元上：不偏向长回复）、grpo（先每个回复内，"
                                "再跨回复）、dr_grpo（除以固定长度：无长度偏差）或 bnpo（在每个进程批次的词元上）。",
                             choices=GRPO_LOSSES, label=Text("Loss type", "损失类型"))
    sample_prompts: int = setting(3, "Fixed validation prompts answered (greedily) before training and at each "
                                  "evaluation, so progress shows as text beside the rewards.",
                                  zh="训练前和每次评估时（贪心）回答的固定验证提示数，让进展在奖励之外也以文本呈现。",
                                  min=0, max=20, label=Text("Sample prompts", "示例提示数"))
    vllm_generation: bool = setting(False, "Generate the replies with vLLM (on a CUDA GPU where vLLM is installed; "
                                    "much faster for long replies).",
                                    zh="用 vLLM 生成回复（在装有 vLLM 的 CUDA GPU 上；长回复快得多）。",
                                    label=Text("Generate with vLLM", "用 vLLM 生成"))


class RewardBase:
    """training.base_scores.UntrainedBase: the base model's replies to the same held-out prompts, scored alike."""

    def base_note(self, cfg) -> Text:
        return Text("the base model (adapters off) answering the same held-out prompts, scored by the same rewards, "
                    "before any training",
                    "基础模型（不加适配器）回答同样的留出提示，用同样的奖励打分，未经任何训练")


class Judged:
    """judge.JudgedReplies: the classifier reward scores through the run the settings name, the code reward
    through the person's file."""

    def judges_named(self, cfg) -> dict[str, tuple[str, str]]:
        own, out = cfg.task_args, {}
        names = reward_names(own.rewards)
        if "classifier" in names:
            out["classifier"] = (str(own.classifier_run).strip(), str(own.classifier_label).strip())
        if "code" in names:
            out["code"] = (str(own.reward_code).strip(), str(own.reward_code_function).strip())
        return out

    def with_judges(self, cfg, parts, judges):
        return judged_parts(cfg, parts, judges)


class Generates:
    """training.memory.GenerationInTraining: the replies trl writes at once (a generation batch: the micro-batch
    times the steps one round feeds), each up to max_new_tokens, and the reference copy a KL term keeps where no
    adapters can be switched off for it."""

    def generation(self, cfg) -> tuple[int, int, bool]:
        t, own = cfg.training, cfg.task_args
        rounds = steps_per_generation(t.batch_size, t.gradient_accumulation_steps, own.num_generations)
        return t.batch_size * rounds, own.max_new_tokens, own.kl_beta > 0 and not METHODS[cfg.method].peft


class Card(ChatCard):
    """export.ModelCard."""

    model_kind = "language model tuned with rewards (GRPO)"
    metrics_note = ("Each reward scores a greedy reply to every held-out prompt from 0 to 1; the reward is their "
                    "weighted total, and answer accuracy the share of final answers equal to the reference. The "
                    "base model's figures are beside them.")


TASK = Task(
    name="rl",
    warm_imports=("trl.trainer.grpo_trainer",),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Reinforcement learning of a chat model with rewards (GRPO)",
                               "用奖励强化学习对话模型（GRPO）"),
                    data_hint=Text("JSON/JSONL, CSV or Parquet with a prompt (text or chat messages) and, for the "
                                   "answer reward, a reference answer (answer, solution)",
                                   "包含提示（文本或对话消息）的 JSON/JSONL、CSV 或 Parquet；使用答案奖励时还需参考答案"
                                   "（answer、solution）"),
                    inputs=(Text("Prompt field", "提示字段"),), answer=Text("Reference-answer field", "参考答案字段"),
                    answer_info=Text("What the answer reward compares replies with; prompts without one are not "
                                     "scored by it.", "答案奖励用来比较回复的内容；没有参考答案的提示不计入该奖励。"),
                    input_noun=Text("prompt", "提示"), answer_noun=Text("reference answer", "参考答案")),
    data=DataFacts(samples=("rl_sample.jsonl",), file_types=(".json", ".jsonl", ".parquet", ".csv", ".tsv"),
                   counts_chart=Text("Prompts, with and without a reference answer", "提示（有无参考答案）"),
                   lengths_chart=Text("Tokens per prompt and reference answer", "提示与参考答案的词元数"),
                   length_noun=Text("prompt", "提示")),
    model=ModelFacts(peft_task_type="CAUSAL_LM", auto_class="AutoModelForCausalLM",
                     default_model="HuggingFaceTB/SmolLM2-135M-Instruct", catalog_models=("smollm2",),
                     methods=None,  # every method, as for SFT: trl generates through peft's prompt learning too
                     # About a 25th of each method's rate for labelled data (LoRA 5e-4 -> 2e-5): 2e-4 collapsed
                     # SmolLM2 onto one reward in 20 steps (bench/RESULTS.md); the other methods' are scaled alike,
                     # not measured.
                     learning_rates={"lora": 2e-5, "qlora": 2e-5, "dora": 2e-5, "adalora": 4e-5, "ia3": 2e-4,
                                     "prefix": 4e-4, "prompt": 1e-3, "full": 1e-6, "freeze": 1e-6},
                     script_requirements=("jinja2", "trl")),
    metrics=MetricFacts(best=("reward", "loss"), test=("reward", "answer_accuracy", "completion_words"),
                        plot=("reward", *REWARD_METRICS),
                        logged=(*REWARD_METRICS, "reward_std", "completion_length", "clipped_ratio", "kl"),
                        steps=("reward", *REWARD_METRICS)),
    predictions=PredictionRows(columns=("text", "reference", "output", "reward", "scores", "correct", "base_output",
                                        "base_reward"), correct="correct"),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict_inputs,
    check_run=check_run, run_callbacks=run_callbacks, count_tokens=count_tokens, length_series=length_series,
    count_bars=bars,
    playground=ChatPlayground(), card=Card(),
    capabilities=(RewardBase(), StreamedChat(), Judged(), Generates()),
)
