"""Instruction tuning of causal LMs (SFT): chat-formatted data, response-only loss, generation.

Every record, Alpaca style (instruction, optional input, output) or chat style (a list of
{role, content} messages), becomes one conversation. The model's own chat template turns it into
text (a plain "### Instruction / ### Response" template stands in when the tokenizer has none), and
only the assistant's tokens carry labels, so the loss measures the answers, not the prompts.

Splits are DataFrames with three columns: text (the last user turn: the prompt as a person reads
it), messages (the conversation as JSON) and reference (the last assistant answer).

Rooms: data (records to conversations, lengths), model, tokens (answer-only labels, batching), training
(perplexity, sample answers), report, predict; what chat tasks share is studio.tasks.chat.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import setting
from studio.base.text import Text
from studio.tasks.base import TEXT, DataFacts, MetricFacts, ModelFacts, PredictionRows, Task, TaskTexts
from studio.tasks.chat import ChatCard, ChatPlayground, StreamedChat
from studio.tasks.sft.data import count_tokens, length_series, prepare_data, turn_bars
from studio.tasks.sft.model import load_model, load_tokenizer
from studio.tasks.sft.predict import predict as predict_inputs
from studio.tasks.sft.predict import teacher_answers
from studio.tasks.sft.report import test_report
from studio.tasks.sft.tokens import collator, tokenize
from studio.tasks.sft.training import run_callbacks, trainer_parts

BATCHING = ("padded", "padding_free", "packed")


@dataclass
class Settings:
    """The settings instruction tuning alone reads (cfg.task_args)."""

    max_new_tokens: int = setting(64, "Most tokens generated per answer when evaluating and reporting (and by "
                                  "default in the playground).",
                                  zh="评估和生成报告时每个回答最多生成的词元数（也是试用"
                                     "页的默认值）。", min=1, max=4096,
                                  label=Text("Max new tokens", "最多生成词元数"))
    sample_prompts: int = setting(3, "Fixed validation prompts answered at each evaluation, so progress shows as "
                                  "text.",
                                  zh="每次评估时回答的固定"
                                     "验证提示数，"
                                     "让进展以"
                                     "文本形式呈现。", min=0, max=20, label=Text("Sample prompts", "示例提示数"))
    batching: str = setting("padded", "How conversations share a batch. padded: each padded to the batch's longest. "
                            "padding_free: the batch's conversations end to end in one row, each attending only to "
                            "itself, so no padding is computed (the same steps and losses, faster when lengths vary; "
                            "with flash-attention only, elsewhere it pads and says why). "
                            "packed: conversations packed into rows of max_length tokens (TRL's best-fit packing): "
                            "fuller rows, fewer steps per epoch, a big GPU's best use.",
                            zh="对话如何组成批次。padded：每条对话填充到批次中最长的长度。padding_free："
                               "批次中的对话首尾相接放在一行，各自只关注自身，因此不计算填充（步数和损失相同，"
                               "长度不一时更快；仅限 flash-attention，其他情况下会改为填充并说明原因）。packed："
                               "对话按 max_length 词元装进各行（TRL 的最佳适配打包）：行更满，每轮步数更少，"
                               "最能发挥大 GPU 的作用。", choices=BATCHING,
                            label=Text("Batching", "批处理方式"))


class GenerativeBase:
    """training.base_scores.UntrainedBase: the base model answers the same test prompts."""

    def base_note(self, cfg) -> Text:
        return Text("the base model answering the same test prompts, before any training",
                    "基础模型回答同样的测试提示，未经任何训练")


class Card(ChatCard):
    """export.ModelCard."""

    model_kind = "instruction-tuned language model"
    metrics_note = ("Loss and perplexity (exp of the loss) count the answer tokens only. chrF (0-100) and exact "
                    "match (a share, 0-1) compare greedy answers to a sample of test prompts with their references.")


class Teaching:
    """distill.SequenceLevel: a teacher's answers become the student's targets."""

    teacher_answers = staticmethod(teacher_answers)


TASK = Task(
    name="sft",
    warm_imports=("sacrebleu",),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Instruction tuning of a chat model (SFT)", "对话模型指令微调（SFT）"),
                    data_hint=Text("JSON/JSONL with instruction, optional input and output, or chat messages "
                                   "(role/content lists)",
                                   "包含 instruction、可选 input 和 output 的 JSON/JSONL，"
                                   "或对话消息（role/content 列表）"),
                    inputs=(Text("Prompt field", "提示字段"),), answer=Text("Answer field", "回答字段"),
                    answer_info=Text("The answer the model learns to give.", "模型要学会给出的回答。"),
                    input_noun=Text("prompt", "提示"), answer_noun=Text("answer", "回答")),
    data=DataFacts(samples=("sft_sample.jsonl",), file_types=(".json", ".jsonl", ".parquet", ".csv", ".tsv"),
                   counts_chart=Text("Conversations by user turns", "按用户轮数统计的对话"),
                   lengths_chart=Text("Tokens per prompt and answer", "提示与回答的词元数"),
                   length_noun=Text("conversation", "对话")),
    model=ModelFacts(peft_task_type="CAUSAL_LM", auto_class="AutoModelForCausalLM",
                     default_model="HuggingFaceTB/SmolLM2-135M-Instruct", catalog_models=("smollm2",),
                     script_requirements=("jinja2",)),  # chat templates render with it; transformers does not need it
    metrics=MetricFacts(best=("loss", "perplexity"), test=("loss", "perplexity", "exact_match", "chrf"),
                        plot=("perplexity",)),
    predictions=PredictionRows(columns=("text", "reference", "output", "correct"), correct="correct"),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict_inputs,
    run_callbacks=run_callbacks, count_tokens=count_tokens, length_series=length_series, count_bars=turn_bars,
    playground=ChatPlayground(), card=Card(),
    capabilities=(GenerativeBase(), StreamedChat(), Teaching()),
)
