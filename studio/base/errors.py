"""The errors a person can act on, in one place, and how any failure reads to them.

Each class is a `ValueError` whose message is one sentence written for people: what is wrong,
where, and what to do. The CLI prints them, the UI shows them as messages, and `USER_ERRORS`
is the one tuple both catch. `failure_reason` turns any other exception that ends a run into
the sentence its status shows.
"""

from __future__ import annotations

import errno


class ConfigError(ValueError):
    """A config the user must fix; the message names the field and the fix."""


class DataError(ValueError):
    """Input data the user must fix; the message says where and how. `fix` names the one data setting that
    reads the file as it is (e.g. "header": read it without a header row), where one does; the Data tab offers
    it as a button."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.fix = fix


class ModelError(ValueError):
    """A model name that cannot be loaded; the message says why and what to do."""


class RunError(ValueError):
    """A run operation that cannot be done; the message says why."""


class AccessError(RunError):
    """Something that is not the person's to see or change; for what they may not see, the message is the one a
    missing thing gets."""


class ReadOnlyError(AccessError):
    """A change asked for by a visitor of a read-only demo."""


class LimitError(ConfigError):
    """A run, sweep or upload beyond what this server's policy allows a person (a quota, a bound); the message
    names the limit and what fits under it."""


class QuotaFull(LimitError):
    """A person's quota of active runs is taken: the same request succeeds once one of their runs ends."""


class InferenceError(ValueError):
    """A prediction that cannot be made with this run; the message says why."""


class ExportError(ValueError):
    """An export that cannot be done; the message says why and what to do."""


class ReproduceError(ExportError):
    """A run whose reproduce script cannot be generated."""


USER_ERRORS = (ConfigError, DataError, ModelError, RunError, InferenceError, ExportError)


class LaunchFailed(RuntimeError):
    """A launch of several processes that ended without a result; the message is the reason shown for the run."""


def _oom_hint(exc: BaseException) -> str | None:
    if is_out_of_memory(exc):
        return ("Out of memory: lower training.batch_size (raise gradient_accumulation_steps to keep the effective "
                "batch), lower training.max_length, or use a LoRA-family method instead of full fine-tuning.")
    return None


DISK_FULL_TEXT = ("no space left on device", "file too large", "disk quota exceeded", "os error 27", "os error 28",
                  "unexpected pos")  # the last: torch.save's own words for a short write


def _disk_full_hint(exc: BaseException) -> str | None:
    """A failed write for want of space (ENOSPC, EDQUOT) or a file-size limit (EFBIG), however it was wrapped.

    Python raises OSError with the errno; safetensors and torch.save wrap it in their own exceptions
    (SafetensorError "... File too large (os error 27)", RuntimeError "... unexpected pos ...").
    """
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            break
        if any(t in str(e).lower() for t in DISK_FULL_TEXT):
            break
        e = e.__cause__ or e.__context__
    else:
        return None
    detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return (f"Disk full or file too large while writing ({detail}): free space on the runs folder's disk (or raise "
            "the file-size limit), then resume from the last checkpoint.")


class TrainingOutOfMemory(RuntimeError):
    """A run that ran out of memory mid-training; the message says where it stopped, what was saved and how to
    resume it with a smaller batch."""


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's CUDA out-of-memory error, a MemoryError, or an allocator's "cannot allocate memory"."""
    text = f"{type(exc).__name__}: {exc}"
    return ("out of memory" in text.lower() or "cannot allocate memory" in text.lower() or isinstance(exc, MemoryError)
            or "OutOfMemoryError" in text)


def failure_reason(exc: BaseException) -> str:
    """The one sentence a failed run shows: what to change for known causes, else the exception's first line."""
    if isinstance(exc, TrainingOutOfMemory):
        return str(exc)
    return (_oom_hint(exc) or _disk_full_hint(exc)
            or f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'}")
