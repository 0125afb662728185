"""Preference tuning of chat models (DPO, ORPO, KTO through trl): answers people prefer, and ones they do not.

Records come in the shapes the field publishes them in, detected:
- prompt + chosen + rejected, each a string, or chosen/rejected as message lists (trl's conversational form,
  with or without a separate prompt: without one, the turns the two share are the prompt);
- Anthropic HH: `chosen` and `rejected` whole "\\n\\nHuman: ... \\n\\nAssistant: ..." transcripts;
- unpaired (KTO): prompt + completion + a true/false label saying whether the answer is a good one.

Splits are DataFrames with four columns: text (the last user turn, as a person reads it), prompt (the
conversation before the answer, as JSON messages), chosen and rejected (answers; an unpaired record fills one
and leaves the other empty). The algorithm is task_args.preference_loss; LoRA on the bundled SmolLM2 is the
default, and DPO's reference model is then the base with the adapter off, not a second copy.

Rooms: data, model, tokens (trl's rows), training (trl's trainers), report, predict; what chat tasks share is
studio.tasks.chat.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import setting
from studio.base.text import Text
from studio.tasks.base import TEXT, DataFacts, MetricFacts, ModelFacts, PredictionRows, Task, TaskTexts
from studio.tasks.chat import ChatCard, ChatPlayground, StreamedChat
from studio.tasks.preference.data import bars, check_run, count_tokens, length_series, prepare_data
from studio.tasks.preference.model import load_model, load_tokenizer
from studio.tasks.preference.predict import predict as predict_inputs
from studio.tasks.preference.report import test_report
from studio.tasks.preference.tokens import collator, tokenize
from studio.tasks.preference.training import trainer_parts

PREFERENCE_LOSSES = ("dpo", "orpo", "kto")


DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")


@dataclass
class Settings:
    """The settings preference tuning alone reads (cfg.task_args)."""

    preference_loss: str = setting("dpo", "dpo (Direct Preference Optimization: pairs, against the base as reference, "
                                   "which with adapters is the base with the adapter off), orpo (pairs, no reference "
                                   "model: also learns the chosen answers, so it can start from a base that was never "
                                   "instruction-tuned) or kto (also learns from unpaired good or bad answers).",
                                   zh="dpo（直接偏好优化：成对数据，以基础模型为参考，使用适配器时即关闭适配器的基础模"
                                      "型）、orpo（成对数据，无需参考模型：同时学习被选中的回答，"
                                      "因此可以从未经指令微调的基础模型开始）或 kto（也能从不成对的好回答或"
                                      "坏回答中学习）。",
                                   choices=PREFERENCE_LOSSES, label=Text("Preference algorithm", "偏好优化算法"))
    beta: float = setting(0.1, "How far the tuned model may move from the reference (DPO, KTO: higher stays closer) "
                          "or the weight of the preference term against the answers' likelihood (ORPO's lambda).",
                          zh="微调后的模型可以偏离参考模型多远（DPO、KTO：越高越接近参考模型），"
                             "或偏好项相对于回答似然的权重（ORPO 的 lambda）。",
                          min=0.001, max=10.0, label=Text("Beta", "Beta"))
    dpo_loss_type: str = setting("sigmoid", "DPO only: sigmoid (the DPO paper), ipo (a squared loss that resists "
                                 "overfitting small sets), hinge (SLiC) or robust (tolerates some flipped pairs).",
                                 zh="仅用于 DPO：sigmoid（DPO 论文）、ipo（平方损失，小数据集上不易过拟合）、"
                                    "hinge（SLiC）或 robust（能容忍部分标反的数据对）。",
                                 choices=DPO_LOSS_TYPES, label=Text("DPO loss", "DPO 损失类型"))
    max_new_tokens: int = setting(64, "Most tokens generated per answer in the test report's side-by-side rows (and "
                                  "by default in the playground).",
                                  zh="测试报告并排对比的行中每个回答最多生成的词元数（也是试用页的默"
                                     "认值）。", min=1, max=4096,
                                  label=Text("Max new tokens", "最多生成词元数"))


class PreferenceBase:
    """training.base_scores.UntrainedBase: the base model scores the same held-out pairs."""

    def base_note(self, cfg) -> Text:
        return Text("the base model (adapters off) scoring the same held-out pairs, before any training",
                    "基础模型（不加适配器）对同样的留出偏好对打分，未经任何训练")


class Card(ChatCard):
    """export.ModelCard."""

    model_kind = "preference-tuned language model"
    metrics_note = ("Preference accuracy is the share of held-out pairs whose chosen answer the model finds more "
                    "likely (mean log-probability per token) than the rejected one; the base model's figure is "
                    "beside it.")


TASK = Task(
    name="preference",
    warm_imports=("trl.trainer.dpo_trainer", "trl.trainer.kto_trainer", "trl.experimental.orpo"),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Preference tuning of a chat model (DPO, ORPO, KTO)",
                               "对话模型偏好微调（DPO、ORPO、KTO）"),
                    data_hint=Text("JSON/JSONL with prompt, chosen and rejected (text or message lists; Anthropic HH "
                                   "transcripts), or prompt, completion and a true/false label (KTO)",
                                   "包含 prompt、chosen、rejected 的 JSON/JSONL（文本或消息列表；Anthropic HH 对话），"
                                   "或 prompt、completion 与真/假 label（KTO）"),
                    inputs=(Text("Prompt field", "提示字段"),), answer=Text("Chosen-answer field", "更优回答字段"),
                    answer_info=Text("The answer people preferred; the rejected one is read from a field named "
                                     "rejected.", "人们更偏好的回答；较差的回答从名为 rejected 的字段读取。"),
                    input_noun=Text("prompt", "提示"), answer_noun=Text("answer", "回答")),
    data=DataFacts(samples=("preference_sample.jsonl",), file_types=(".json", ".jsonl", ".parquet", ".csv", ".tsv"),
                   counts_chart=Text("Records: pairs and single answers", "记录：成对与单个回答"),
                   lengths_chart=Text("Tokens per prompt and answer", "提示与回答的词元数"),
                   length_noun=Text("record", "记录")),
    model=ModelFacts(peft_task_type="CAUSAL_LM", auto_class="AutoModelForCausalLM",
                     default_model="HuggingFaceTB/SmolLM2-135M-Instruct", catalog_models=("smollm2",),
                     methods=("lora", "qlora", "dora", "full", "freeze", "ia3", "adalora"),
                     learning_rates={"lora": 5e-5, "dora": 5e-5, "adalora": 5e-5, "ia3": 5e-4, "full": 5e-7,
                                     "freeze": 5e-7},
                     sequences_per_row=2,  # chosen and rejected; DPO's reference pass keeps no activations
                     script_requirements=("jinja2", "trl")),
    metrics=MetricFacts(best=("loss", "reward_accuracy", "reward_margin"), test=("preference_accuracy", "logp_margin"),
                        plot=("reward_accuracy", "reward_margin", "reward_chosen", "reward_rejected"),
                        logged=("reward_chosen", "reward_rejected")),
    predictions=PredictionRows(columns=("text", "chosen", "rejected", "output", "chosen_logp", "rejected_logp",
                                        "correct"), correct="correct"),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict_inputs,
    check_run=check_run, count_tokens=count_tokens, length_series=length_series, count_bars=bars,
    playground=ChatPlayground(), card=Card(),
    capabilities=(PreferenceBase(), StreamedChat()),
)
