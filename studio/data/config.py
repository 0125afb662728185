"""The data section of a run config: where the data comes from, which columns hold what, how it is split."""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.errors import ConfigError
from studio.base.settings import setting


@dataclass
class DataConfig:
    train: str = setting("", "Training file. Text classification: CSV, TSV, JSON, JSONL or Parquet with a text and a "
                         "label column. Token classification: CoNLL columns (token ... tag) or JSON/JSONL with tokens "
                         "and BIO tags. SFT: JSON/JSONL with instruction/input/output or chat messages. Seq2seq: "
                         "source and target columns. Question answering: SQuAD-style records (question, context, "
                         "answers).",
                         zh="训练文件。文本分类：含一个文本列和一个标签列的 CSV、TSV、JSON、JSONL 或 Parquet。"
                            "词元分类：CoNLL 列格式（词元 ... 标签），或含词元和 BIO 标签的 JSON/JSONL。SFT："
                            "含 instruction/input/output 或对话消息的 JSON/JSONL。Seq2seq：源文本列和目标文本列。问答："
                            "SQuAD 格式的记录（question、context、answers）。")
    validation: str | None = setting(None, "Optional validation file; without it a share of train is held out.",
                                     zh="可选的验证文件；没有时从训练数据中留出一部分。")
    test: str | None = setting(None, "Optional test file; without it a share of train is held out.",
                               zh="可选的测试文件；没有时从训练数据中留出一部分。")
    text_column: str | None = setting(None, "Column holding the input: the text (classification), the token list "
                                      "(NER), the source (seq2seq), the instruction or messages (SFT), the question "
                                      "(question answering); detected when left empty.",
                                      zh="存放输入的列：文本（分类）、词元列表（NER）、源文本（seq2seq）、"
                                         "指令或消息（SFT）、问题（问答）；留空时自动检测。")
    context_column: str | None = setting(None, "Column holding the second input, for tasks whose examples have two: "
                                         "the passage a question is answered from; detected when left empty.",
                                         zh="存放第二个输入的列，用于样本有两个输入的任务：回答问题所依据的段落；"
                                            "留空时自动检测。")
    label_column: str | None = setting(None, "Column holding the answer: the label (classification), the tag list "
                                       "(NER), the target (seq2seq), the output (SFT), the answers (question "
                                       "answering); detected when left empty.",
                                       zh="存放答案的列：标签（分类）、标签列表（NER）、目标文本（seq2seq）、"
                                          "输出（SFT）、答案（问答）；留空时自动检测。")
    header: bool = setting(True, "The first line of a CSV/TSV file names its columns. Off: every line is data "
                           "(public sets often come without a header), the columns are called column_1, column_2, "
                           "... and the text and answer columns are found by their contents.",
                           zh="CSV/TSV 文件的第一行是列名。关闭时：每一行都是数据（公开数据集常常没有表头），"
                              "各列命名为 column_1、column_2……，并按内容识别文本列和答案列。")
    repair_bio: bool = setting(False, "Tagged data (NER): an I-TYPE that does not continue an entity of its type "
                               "starts one, as if it were B-TYPE (how IOB1 files and most taggers read it), instead "
                               "of refusing the file; the data report says how many tags changed.",
                               zh="标注数据（NER）：不接续同类型实体的 I-TYPE 会开始一个新实体，视同 B-TYPE（IOB1 文件"
                                  "和大多数标注工具都这样理解），而不是拒绝该文件；数据报告会说明改动了多少个标签。")
    skip_bad_records: bool = setting(False, "Leave out the records that cannot be read (a turn without text, a line "
                                     "that is not JSON, a CSV line with too many fields, tags that do not fit their "
                                     "tokens) and train on the rest, instead of refusing the file; the data report "
                                     "counts them and names the first few with why. A file none of whose records "
                                     "can be read is refused either way.",
                                     zh="跳过无法读取的记录（没有文字的对话轮、不是 JSON 的行、字段过多的 CSV 行、"
                                        "与词元数量不符的标签等），用其余记录训练，而不是拒绝整个文件；数据报告会统计"
                                        "跳过的数量，并列出前几条及其原因。所有记录都无法读取的文件仍会被拒绝。")
    label_names: str | None = setting(None, "For files that store labels or BIO tags as numbers (class ids, as "
                                      "Hugging Face datasets export them): the names in id order, comma-separated, "
                                      "e.g. O, B-PER, I-PER, B-LOC, I-LOC. Empty when the file holds the names.",
                                      zh="用于以数字存储标签或 BIO 标签的文件（类别编号，Hugging Face 数据集导出时即如"
                                         "此）：按编号顺序填写名称，用逗号分隔，例如 O, B-PER, I-PER, B-LOC, I-LOC。"
                                         "文件中已是名称时留空。",
                                      joined=True)
    validation_fraction: float = setting(0.1, "Share of train held out for validation when no validation file is "
                                         "given; 0 spends no rows on it: evaluation then reads the test rows.",
                                         zh="没有验证文件时，从训练数据中留作验证的比例；0 表示不留："
                                            "评估改用测试集的行。",
                                         min=0.0, max=0.5)
    test_fraction: float = setting(0.1, "Share of train held out for the test report when no test file is given; 0 "
                                   "reports on the validation rows.",
                                   zh="没有测试文件时，从训练数据中留作测试报告的比例；"
                                      "0 表示在验证集的行上报告。", min=0.0, max=0.5)
    split_seed: int = setting(42, "Seed of the split, so the same file always splits the same way.",
                              zh="数据划分的随机种子，同一个文件总是按同样的方式划分。", min=0)
    max_rows: int | None = setting(None, "Use at most this many training rows (a seeded sample, stratified where the "
                                   "task has labels); empty for all.",
                                   zh="最多使用这么多行训练数据（按种子抽样，任务有标签时分层抽样）；"
                                      "留空则全部使用。", min=1)

    def names_of_ids(self) -> list[str] | None:
        """label_names as a list (id 0 first), or None when unset."""
        if not self.label_names or not self.label_names.strip():
            return None
        names = [n.strip() for n in self.label_names.split(",")]
        if not all(names) or len(set(names)) != len(names):
            raise ConfigError("data.label_names: give each id's name once, comma-separated in id order "
                              "(e.g. O, B-PER, I-PER); empty names and repeats are not allowed.")
        return names
