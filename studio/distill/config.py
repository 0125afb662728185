"""The distill section of a run config, and its check against the task (pure: config validation calls it)."""

from __future__ import annotations

from dataclasses import dataclass

from studio.base.errors import ConfigError
from studio.base.settings import setting
from studio.distill.capability import SequenceLevel, SoftLabels


@dataclass
class DistillConfig:
    teacher: str | None = setting(None, "Knowledge distillation: the id of a completed run of the same task and labels "
                                  "whose model teaches this one (typically a bigger base, fully fine-tuned). Empty: "
                                  "no teacher.",
                                  zh="知识蒸馏：一个已完成运行的 ID，它与本运行任务和标签相同，由它的模型来教本运行（通"
                                     "常是更大、全量微调过的基础模型）。留空：不用教师。")
    temperature: float = setting(2.0, "Classification: softens the teacher's probabilities so the student also learns "
                                 "which wrong classes it found close; 1 leaves them as they are. (SFT students learn "
                                 "the teacher's answers instead: sequence-level distillation.)",
                                 zh="分类：让教师的概率分布更平滑，使学生也能学到教师认为相近的错误类别；"
                                    "1 表示保持原样。（SFT 学生改为学习教师的回答：序列级蒸馏。）", min=1.0, max=20.0)
    alpha: float = setting(0.5, "Classification: weight of the teacher's softened probabilities in the loss; the rest "
                           "goes to the true labels. 1 learns from the teacher alone.",
                           zh="分类：教师平滑后的概率在损失中的权重；其余权重给真实标签。"
                              "1 表示只向教师学习。", min=0.0, max=1.0)
    transfer: str | None = setting(None, "Optional file of unlabelled texts (a text column; labels, if any, are "
                                   "ignored) that the teacher labels for the student: more to learn from than the "
                                   "labelled rows.",
                                   zh="可选的未标注文本文件（一个文本列；即使有标签也会忽略），由教师为学生标注："
                                      "比已标注的行提供更多可学习的数据。")
    compare_alone: bool = setting(True, "Also queue the same student without the teacher (labels only, same data, "
                                  "epochs and seed), so the report shows what the teacher added.",
                                  zh="同时排队一个不带教师的相同学生（只用标签，数据、轮数和种子相同），"
                                     "让报告显示教师带来的提升。")

    def check(self, task) -> None:
        """This section against the task: which kind of teaching it takes, if any."""
        soft, sequence = task.capability(SoftLabels), task.capability(SequenceLevel)
        if self.transfer and not self.teacher:
            raise ConfigError("distill.transfer: a transfer file is labelled by a teacher; name one in "
                              "distill.teacher.")
        if self.teacher and soft is None and sequence is None:
            raise ConfigError(f"distill.teacher: {task.name} runs cannot be distilled yet (text classification and SFT "
                              "can).")
        if self.transfer and soft is None:
            raise ConfigError(f"distill.transfer: {task.name} students learn the teacher's answers to their own "
                              "prompts; a transfer file applies to text classification.")
