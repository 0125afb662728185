"""What the operator allows on this server, read from the environment once per question.

The launch flags set these (launch.py: --trust-remote-code, --no-local-models); workers inherit them.
"""

from __future__ import annotations

import os

from studio.base.limits import POLICY_ENV

TRUE = ("1", "true", "yes", "on")


def trust_remote_code() -> bool:
    """Whether model repositories may run their own Python code: off unless the operator turns it on
    (`--trust-remote-code` or STUDIO_TRUST_REMOTE_CODE=1). Passed to every from_pretrained."""
    return os.environ.get("STUDIO_TRUST_REMOTE_CODE", "").strip().lower() in TRUE


def local_models_allowed() -> bool:
    """Whether users may point the studio at model folders on this server (`--no-local-models` turns it off, and
    so does a policy whose local_models limit is off: launch.py sets the variable from it)."""
    return os.environ.get("STUDIO_ALLOW_LOCAL_MODELS", "1").strip() != "0"


def hub_offline() -> bool:
    """True when the Hugging Face Hub is switched off for this process (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(k, "").strip().upper() in ("1", "ON", "YES", "TRUE")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def reward_code_allowed() -> bool:
    """Whether a run may score replies with a Python file of its person's (reinforcement learning's code reward):
    off unless the operator turns it on (`--allow-reward-code`, STUDIO_ALLOW_REWARD_CODE=1), and always off under
    the public policy, whatever the flag says."""
    return (os.environ.get("STUDIO_ALLOW_REWARD_CODE", "").strip().lower() in TRUE
            and os.environ.get(POLICY_ENV, "").strip() != "public")
