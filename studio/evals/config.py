"""BenchmarkConfig: how a benchmark job scores a run and its base (the Runs tab's fields, `studio eval`'s flags)."""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.settings import build, check_bounds, setting
from studio.base.text import Text

# The fields' short names on the page, in its order
LABELS = {"limit": Text("Questions per benchmark", "每个基准的题目数"),
          "num_fewshot": Text("Few-shot examples", "少样本示例数"),
          "with_base": Text("Score the base model too", "同时评测基础模型"),
          "chat_template": Text("Through the chat template", "使用对话模板"),
          "batch_size": Text("Batch size", "批大小"),
          "max_new_tokens": Text("Longest answer (tokens)", "最长回答（词元）")}


@dataclass(frozen=True)
class BenchmarkConfig:
    limit: int | None = setting(None, "Questions per benchmark: the first N of each; empty scores them all (a quick "
                                "look first: 50 to 200).",
                                zh="每个基准测试评测的题目数：取前 N 道；留空则全部评测"
                                   "（先快速看看：50 到 200）。", min=1, max=100_000)
    num_fewshot: int = setting(0, "Solved examples shown before each question (few-shot; 0: the question alone). "
                               "Taken from the same file, never the question itself.",
                               zh="每道题前展示的已解答示例数（少样本；0 表示只给题目）。示例取自同一文件，"
                                  "不会是题目本身。", min=0, max=10)
    with_base: bool = setting(True, "Score the base model the run started from on the same questions, beside the "
                              "tuned one (twice the time).",
                              zh="在同样的题目上同时评测运行所用的基础模型，与微调后的模型并排对比（耗时加倍）。")
    chat_template: bool = setting(True, "Ask each question through the tokenizer's chat template, as the tuned model "
                                  "was trained to answer (where it has one); off: the plain prompt.",
                                  zh="通过分词器的对话模板提问（若有），与微调模型训练时的回答方式一致；"
                                     "关闭则使用纯文本提示。")
    batch_size: int = setting(8, "Questions scored together; lower it if the device runs out of memory.",
                              zh="一次一起评测的题目数；设备内存不足时调低。", min=1, max=256)
    max_new_tokens: int = setting(64, "Longest answer a generation benchmark lets the model write, in tokens.",
                                  zh="生成类基准测试中模型回答的最大长度（词元数）。", min=1, max=2048)

    @classmethod
    def from_dict(cls, raw: dict | None) -> "BenchmarkConfig":
        """Built and checked from a mapping (the page's or a job file's); unknown names and bad values refused."""
        out = build(cls, {k: v for k, v in (raw or {}).items() if v is not None}, "benchmark.")
        check_bounds(out, "benchmark")
        return out
