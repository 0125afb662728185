"""The rewards a person picks by name (task_args.rewards), each a function in the shape TRL's GRPOTrainer calls:
f(prompts, completions, **columns) -> one score (or None: not scored) per completion. A completion is text, or
trl's conversational form [{"role": "assistant", "content": ...}]; the data's reference answers arrive as the
`reference` column.

Each reward scores from 0 (worst) to 1 (best), so several add up on one scale and their weights say what matters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from studio.base.errors import ConfigError
from studio.base.text import Text

# Where a reply states its final answer, most explicit first: <answer>...</answer>, \boxed{...} (braces counted:
# \boxed{\frac{1}{2}}), "Answer: ..." (also **Answer:** and "the final answer is"), "####" (GSM8K's references);
# else the last number in the reply.
TAGGED = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
STATED = re.compile(r"\b(?:final answer|answer)\b\W{0,3}?\s*(?:\bis\b|:)(.+)", re.I)
HASHES = re.compile(r"####\s*(.+)")
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")
THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
DEFAULT_FORMAT = r"(?im)^\s*answer:\s*\S"


def completion_text(completion: Any) -> str:
    """The reply's text, from trl's plain or conversational completion."""
    if isinstance(completion, list):
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, dict))
    return str(completion or "")


def boxed(text: str) -> list[str]:
    """What each \\boxed{...} holds, nested braces and all."""
    out = []
    for start in (m.end() for m in re.finditer(r"\\boxed\{", text)):
        depth, i = 1, start
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if not depth:
            out.append(text[start:i - 1])
    return out


def final_answer(text: str) -> str:
    """The answer a reply ends on: the last tagged, boxed or stated one (see TAGGED), else the last number, else the
    text."""
    for found in (TAGGED.findall(text), boxed(text), STATED.findall(text), HASHES.findall(text)):
        if found:
            lines = found[-1].strip(" \t:*_").strip().splitlines()
            return lines[0].strip(" *_") if lines else ""
    numbers = NUMBER.findall(text)
    return numbers[-1] if numbers else text.strip()


FRACTION = re.compile(r"\\[dt]?frac\{\s*(-?\d+)\s*\}\{\s*(\d+)\s*\}")


def _normalised(text: str) -> str:
    text = FRACTION.sub(r"\1/\2", text)  # \frac{1}{2} is 1/2: a number, compared as one
    text = re.sub(r"[\s$€£%]+", " ", text).strip().rstrip(".!。").strip().casefold()
    return text.replace(",", "") if THOUSANDS.fullmatch(text) else text


def _as_number(text: str) -> float | None:
    if " " in text:  # "1 1/2", "12 13": not one number
        return None
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError):
        return None


def answers_match(answer: str, reference: str) -> bool:
    """Whether a reply's final answer equals the reference: as numbers (12, 12.0 and 1,2 0 agree; 1/2 and 0.5),
    through math-verify for LaTeX and expressions where it is installed, else as text (case, spacing and a final
    period ignored)."""
    ref = final_answer(reference) if ("####" in reference or "\\boxed" in reference) else reference.strip()
    got, want = _normalised(answer), _normalised(ref)
    if not want:
        return False
    a, b = _as_number(got), _as_number(want)
    if a is None and b is not None and NUMBER.match(got):  # "12 apples": the number it starts with
        a = _as_number(_normalised(NUMBER.match(got).group(0)))
    if a is not None and b is not None:
        return abs(a - b) <= 1e-6 * max(1.0, abs(b))
    if got == want:
        return True
    try:
        from math_verify import parse, verify
    except ImportError:  # optional: numbers and text above cover the common cases
        return False
    try:
        return bool(verify(parse(ref), parse(answer)))
    except Exception:  # noqa: BLE001 - an expression math-verify cannot read is not a match
        return False


# ================================================================= rewards ==
def answer_reward(completions, reference=None, **_) -> list[float | None]:
    """1 where the reply's final answer equals the record's reference answer, else 0; None where the record has
    no reference (trl then leaves that reward out of the total)."""
    refs = reference if reference is not None else [None] * len(completions)
    return [None if ref is None or not str(ref).strip() else
            float(answers_match(final_answer(completion_text(c)), str(ref))) for c, ref in zip(completions, refs)]


def format_reward_for(pattern: str) -> Callable[..., list[float]]:
    rx = re.compile(pattern)

    def format_reward(completions, **_) -> list[float]:
        """1 where the reply matches the format pattern (a regular expression, searched), else 0."""
        return [1.0 if rx.search(completion_text(c)) else 0.0 for c in completions]

    return format_reward


def length_reward_for(target_words: int) -> Callable[..., list[float]]:
    def length_reward(completions, **_) -> list[float]:
        """1 at the target length in words, falling linearly to 0 at no words or twice the target."""
        return [max(0.0, 1.0 - abs(len(completion_text(c).split()) - target_words) / target_words)
                for c in completions]

    return length_reward


FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def json_value(text: str) -> tuple[bool, Any]:
    """(parsed, value) of a reply that is a JSON object or array: the whole reply, or the first ```json fenced block
    in it (a bare number or string is JSON too, but no answer a person asks JSON for)."""
    fenced = FENCE.search(text)
    candidate = (fenced.group(1) if fenced else text).strip()
    try:
        value = json.loads(candidate)
    except (json.JSONDecodeError, ValueError):
        return False, None
    return isinstance(value, (dict, list)), value


def json_reward_for(schema_text: str) -> Callable[..., list[float]]:
    schema = json.loads(schema_text) if schema_text.strip() else None
    validator = None
    if schema is not None:
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)

    def json_reward(completions, **_) -> list[float]:
        """1 where the reply is a valid JSON object or array (matching the schema, when one is given; JSON that does
        not match scores 0.5), else 0."""
        out = []
        for c in completions:
            ok, value = json_value(completion_text(c))
            out.append(0.0 if not ok else 1.0 if validator is None or validator.is_valid(value) else 0.5)
        return out

    return json_reward


def classifier_reward_for(score: Callable[[list[str]], list[float]] | None) -> Callable[..., list[float]]:
    def classifier(completions, **_) -> list[float]:
        """The classifier run's probability of its label for each reply (0 to 1)."""
        if score is None:  # the judge feature puts the loaded run in place (studio.judge) before training starts
            raise ConfigError("task_args.rewards: the classifier reward scores with a finished run, which only a run "
                              "the studio starts loads; leave it out here.")
        return [float(p) for p in score([completion_text(c) for c in completions])]

    return classifier


def code_reward_for(fn: Callable | None) -> Callable[..., list[float | None]]:
    def code(prompts=None, completions=None, **columns) -> list[float | None]:
        """The person's own reward function (task_args.reward_code), called as trl calls any reward; each score
        a number (0 to 1 adds up best with the others) or None (not scored)."""
        if fn is None:  # the judge feature loads the recorded source (studio.judge) before training starts
            raise ConfigError("task_args.rewards: the code reward runs only in a run the studio starts, where its "
                              "operator allows code.")
        got = fn(prompts=prompts, completions=completions, **columns)
        try:
            scores = [None if s is None else float(s) for s in got]
        except (TypeError, ValueError):
            raise ConfigError("task_args.reward_code: the reward function must return one number (or None) per "
                              f"reply; it returned {str(got)[:80]!r}.") from None
        if len(scores) != len(completions):
            raise ConfigError(f"task_args.reward_code: the reward function returned {len(scores)} scores for "
                              f"{len(completions)} replies; return one per reply.")
        return scores

    return code


@dataclass(frozen=True)
class Reward:
    name: str
    help: Text
    needs_reference: bool = False


REWARDS = {r.name: r for r in (
    Reward("answer", Text("1 when the reply's final answer (after 'Answer:', in \\boxed{}, in <answer> tags, else its "
                          "last number) equals the record's reference answer: numbers as numbers, maths through "
                          "math-verify, text ignoring case and spacing.",
                          "回复的最终答案（“Answer:”之后、\\boxed{} 或 <answer> 标签中，否则取最后一个数字）"
                          "与记录的参考答案"
                          "相同时为 1：数字按数值比较，数学式用 math-verify 比较，文本忽略大小写和空白。"),
           needs_reference=True),
    Reward("format", Text("1 when the reply matches the format pattern (a regular expression: by default a line that "
                          "starts with 'Answer:').",
                          "回复符合格式模式（正则表达式：默认是一行以“Answer:”开头）时为 1。")),
    Reward("length", Text("1 at the target length in words, falling to 0 at no words or twice the target.",
                          "在目标词数时为 1，没有词或达到目标两倍时降为 0。")),
    Reward("classifier", Text("A finished text-classification run of this studio (classifier_run) as the judge: its "
                              "probability of one of its labels (classifier_label: polite, on topic, positive) for "
                              "the reply.",
                              "把本工作室一个已完成的文本分类运行（classifier_run）当作评判：它给回复属于其某个标签"
                              "（classifier_label：礼貌、切题、正面）的概率。")),
    Reward("code", Text("Your own Python function (reward_code_function in the file reward_code), called with the "
                        "prompts, the replies and the data's columns; only where the server's operator allows code.",
                        "你自己的 Python 函数（reward_code 文件中的 reward_code_function），"
                        "传入提示、回复和数据的各列；仅在服务器管理员允许代码时可用。")),
    Reward("json", Text("1 when the reply is a valid JSON object or array (and matches the JSON schema, when one is "
                        "given: JSON that does not match scores 0.5).",
                        "回复是有效的 JSON 对象或数组（给出 JSON schema 时还须符合它：不符合的 JSON 得 0.5）时为 1。")),
)}


def reward_names(text: str) -> list[str]:
    return [n.strip() for n in str(text or "").split(",") if n.strip()]


def reward_weights(names: list[str], text: str) -> list[float]:
    """The weight of each reward (task_args.reward_weights: numbers in the rewards' order; empty: all 1)."""
    raw = [w.strip() for w in str(text or "").split(",") if w.strip()]
    if not raw:
        return [1.0] * len(names)
    try:
        weights = [float(w) for w in raw]
    except ValueError:
        raise ConfigError(f"task_args.reward_weights: {text!r} is not a list of numbers like 1, 0.5.") from None
    if len(weights) != len(names):
        raise ConfigError(f"task_args.reward_weights: {len(weights)} weight(s) for {len(names)} reward(s) "
                          f"({', '.join(names)}); give one per reward, in the same order, or none.")
    return weights


def check_rewards(own) -> list[str]:
    """The rewards task settings `own` name, checked: known names, a valid pattern, target and schema."""
    names = reward_names(own.rewards)
    if not names:
        raise ConfigError(f"task_args.rewards: name at least one reward of {', '.join(REWARDS)}.")
    unknown = [n for n in names if n not in REWARDS]
    if unknown:
        raise ConfigError(f"task_args.rewards: unknown reward(s) {', '.join(map(repr, unknown))}; the rewards are "
                          f"{', '.join(REWARDS)}.")
    if len(set(names)) != len(names):
        raise ConfigError("task_args.rewards: each reward once; give a repeated one a larger weight instead.")
    reward_weights(names, own.reward_weights)
    if "format" in names:
        try:
            re.compile(own.format_pattern)
        except re.error as e:
            raise ConfigError(f"task_args.format_pattern: {own.format_pattern!r} is not a regular expression "
                              f"({e}).") from None
    if "length" in names and own.length_target < 1:
        raise ConfigError("task_args.length_target: the length reward needs a target of at least 1 word.")
    if "classifier" in names and not (str(own.classifier_run).strip() and str(own.classifier_label).strip()):
        raise ConfigError("task_args.classifier_run and classifier_label: the classifier reward needs a finished "
                          "text-classification run (its id) and the label whose probability scores a reply.")
    if "code" in names and not (str(own.reward_code).strip() and str(own.reward_code_function).strip()):
        raise ConfigError("task_args.reward_code: the code reward needs the path of a Python file and the name of "
                          "its reward function (reward_code_function).")
    if "json" in names and own.json_schema.strip():
        try:
            schema = json.loads(own.json_schema)
        except json.JSONDecodeError as e:
            raise ConfigError(f"task_args.json_schema: not JSON ({e.msg} at character {e.pos}).") from None
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise ConfigError(f"task_args.json_schema: not a JSON Schema ({e.message}).") from None
    return names


def reward_functions(own, judges: dict[str, Callable] | None = None) -> list[Callable[..., list[float | None]]]:
    """The functions of the rewards the settings name, in their order, each named for its reward (trl logs it
    as rewards/<name>/mean). `judges`: what a run loaded for the rewards from outside the task (studio.judge):
    "classifier" (texts -> probabilities) and "code" (the person's function)."""
    judges = judges or {}
    made = {"answer": lambda: answer_reward, "format": lambda: format_reward_for(own.format_pattern),
            "length": lambda: length_reward_for(own.length_target), "json": lambda: json_reward_for(own.json_schema),
            "classifier": lambda: classifier_reward_for(judges.get("classifier")),
            "code": lambda: code_reward_for(judges.get("code"))}
    return [_named(made[name](), name) for name in check_rewards(own)]


def _named(fn: Callable[..., list[float | None]], name: str) -> Callable[..., list[float | None]]:
    def reward(*args, **kwargs):
        return fn(*args, **kwargs)

    reward.__name__ = reward.__qualname__ = name
    reward.__doc__ = fn.__doc__
    return reward
