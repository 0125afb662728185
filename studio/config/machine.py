"""What this server must offer a run (GPUs for sharding, deepspeed, a W&B login), and how several processes and
machines must be set: checked where a run is created or resumed, before minutes are spent launching it."""

from __future__ import annotations

import importlib.util
import re

from studio.base.cluster_address import parse_resources, ray_address
from studio.base.errors import ConfigError


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check_launch(t) -> None:
    """How several processes and machines must be set (pure: part of every config's validation)."""
    if t.num_processes < t.num_machines:
        raise ConfigError("training.num_processes: give at least one process per machine (num_processes counts "
                          "all machines).")
    if t.num_processes % t.num_machines:
        raise ConfigError(f"training.num_processes: {t.num_processes} does not split evenly over "
                          f"{t.num_machines} machines.")
    if t.num_processes > 1 and t.device.startswith("cuda:"):
        raise ConfigError("training.device: several processes take one GPU each from CUDA_VISIBLE_DEVICES; "
                          "set device to auto or cuda instead of one GPU.")
    if t.distributed != "ddp" and (t.num_processes > 1 or t.num_machines > 1) and t.device == "cpu":
        raise ConfigError(f"training.distributed: {t.distributed} shards the model over GPUs; use ddp to train on CPU.")
    parse_resources(t.cluster_resources)
    if t.accelerator_type and not re.fullmatch(r"[A-Za-z0-9_\-.]{1,64}", t.accelerator_type):
        raise ConfigError(f"training.accelerator_type: {t.accelerator_type!r} is not a GPU type as Ray names them "
                          "(e.g. A100, H100, L4).")


def check_rendezvous(t) -> None:
    """Several machines under the studio's own queue meet at machine 0's address (accelerate's static rendezvous);
    on a Ray cluster, Ray Train sets the meeting point up itself."""
    if ray_address() is not None:
        return
    if t.num_machines > 1 and not t.main_process_ip:
        raise ConfigError("training.main_process_ip: set it to machine 0's address when "
                          "training.num_machines is above 1 (or send the run to a Ray cluster: --ray ADDRESS).")
    if t.num_machines > 1 and not t.main_process_port:
        raise ConfigError("training.main_process_port: set a port open on machine 0 when "
                          "training.num_machines is above 1.")



def check_processes(t, device: str) -> None:
    """Processes on this machine's CPU: no more than its cores (two at least, so a small machine still tests
    data-parallel runs); 1024 processes would only fork the server to its knees."""
    import os

    if device != "cpu" or t.num_machines > 1:
        return
    cores = os.cpu_count() or 1
    if t.num_processes > max(2, cores):
        raise ConfigError(f"training.num_processes: {t.num_processes} processes on this machine's CPU, which has "
                          f"{cores} core{'s' if cores != 1 else ''}; use at most {max(2, cores)}, or train on GPUs.")


def check_sharding(t) -> None:
    if t.distributed == "ddp" or (t.num_processes == 1 and t.num_machines == 1):
        return
    if t.distributed == "deepspeed" and not _installed("deepspeed"):
        raise ConfigError("training.distributed: deepspeed is not installed; `pip install deepspeed` or choose "
                          "ddp or fsdp.")
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(f"training.distributed: {t.distributed} needs GPUs and this machine has none; use ddp.")


def check_gpu_extras(t) -> None:
    """8-bit optimizers and Liger's kernels run on CUDA GPUs, from packages installed where there is one."""
    wants = [(t.optimizer != "adamw", f"training.optimizer {t.optimizer}", "bitsandbytes", "bitsandbytes"),
             (t.liger_kernels, "training.liger_kernels", "liger_kernel", "liger-kernel")]
    for wanted, what, module, package in wants:
        if not wanted:
            continue
        if t.device == "cpu" or not _cuda():
            raise ConfigError(f"{what} needs a CUDA GPU, and " + ("this run trains on the CPU" if t.device == "cpu"
                              else "this server has none") + "; turn it off.")
        if not _installed(module):
            raise ConfigError(f"{what} needs {package}, which is not installed here: `pip install -e \".[gpu]\"` "
                              f"(or `pip install {package}`), or turn it off.")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def check_tracking(t) -> None:
    if t.wandb and not _installed("wandb"):
        raise ConfigError("training.wandb: the wandb package is not installed; install wandb or turn "
                          "training.wandb off.")
    if t.wandb and wandb_login_missing():
        raise ConfigError("training.wandb: no Weights & Biases login on this server; run `wandb login` or set "
                          "WANDB_API_KEY where the studio runs, or set WANDB_MODE=offline to log into the run folder "
                          "(`wandb sync` uploads it later).")


def wandb_login_missing() -> bool:
    """True when wandb would have to ask for an API key: a background worker cannot answer, so the run would fail
    after it started. Offline and disabled modes need none. When it cannot tell, wandb decides in the worker."""
    import os

    if os.environ.get("WANDB_MODE", "").strip().lower() in ("offline", "dryrun", "disabled"):
        return False
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return False
    try:
        import wandb
        from wandb.sdk.lib.wbauth import authenticate  # no public call checks for a key without prompting

        return authenticate.authenticate_session(host=wandb.Settings().base_url, source="studio", prompt=False,
                                                 update_session=False) is None
    except Exception:  # noqa: BLE001 - another wandb version: let the worker's wandb.init say what is wrong
        return False


