"""A person's limits on this server (studio.base.limits) checked before anything of theirs is written.

Each check refuses with one sentence that names the limit and what fits under it (a LimitError). Admins and the
machine itself have no limits (Store.person_limits gives them limits.OPEN), so every check below passes for them.
What a person's run may read is checked here too: data files only from the bundled samples, their own uploads and
their own labelling projects, never an arbitrary path on the server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from studio.base.access import Person, read_access
from studio.base.entity import LABELLING, RUNS, SWEEPS
from studio.base.errors import LimitError, QuotaFull
from studio.base.limits import Limits
from studio.data.reading import human_size
from studio.data.samples import SAMPLES_DIR
from studio.data.uploads import is_within, uploads_dir

Store = Any  # a studio.runs.store.Store (which imports this module)

DATA_FILES = (("data", "train"), ("data", "validation"), ("data", "test"), ("distill", "transfer"))


def check_config(cfg, lim: Limits) -> None:
    """The run's settings against the bounds of the person's policy."""
    t = cfg.training
    bounds = (("epochs", t.epochs, lim.epochs, "training.epochs"),
              ("max_length", t.max_length, lim.max_length, "training.max_length"),
              ("num_processes", t.num_processes, lim.num_processes, "training.num_processes"))
    for name, value, bound, field in bounds:
        if bound is not None and value > bound:
            raise LimitError(f"{field} {value:g} is above this server's limit of {bound:g} ({name}); lower it, or run "
                             "the studio on your own machine for bigger runs.")
    if t.num_machines > 1 and not lim.multi_machine:
        raise LimitError("training.num_machines: runs across several machines are off on this server (its policy "
                         "does not let a run dial other machines); set num_machines to 1.")
    if t.wandb and not lim.wandb:
        raise LimitError("training.wandb: logging to Weights & Biases is off on this server; turn it off (the run's "
                         "TensorBoard logs and metrics stay in its folder).")


def check_model_size(cfg, lim: Limits) -> None:
    """The base model's size (from its config, on the meta device: no weights are read) against the policy."""
    if lim.model_billions is None:
        return
    from studio.training.memory import shape

    try:
        total = shape(cfg).total
    except Exception as e:  # noqa: BLE001 - a size that cannot be read cannot be allowed under a bound
        raise LimitError(f"model: the size of {cfg.model} could not be read ({type(e).__name__}), and this server "
                         f"allows bases up to {lim.model_billions:g} billion parameters; pick a catalog model."
                         ) from None
    if total > lim.model_billions * 1e9:
        raise LimitError(f"model: {cfg.model} has {total / 1e9:.2f} billion parameters, above this server's limit of "
                         f"{lim.model_billions:g} billion (model_billions); pick a smaller base.")


def check_active(store: "Store", lim: Limits, adding: int = 1) -> None:
    """Room for `adding` more active runs of the store's person (a distilled run brings its comparison run)."""
    if lim.runs_active is None:
        return
    active = store.owned_active(store.person.name)
    if len(active) + adding > lim.runs_active:
        raise QuotaFull(f"You have {len(active)} runs queued or training, this server's limit (runs_active "
                         f"{lim.runs_active}); wait for one to finish, or stop one, before starting another.")


def check_room(store: "Store", lim: Limits, runs: int = 1) -> None:
    """Active runs and disk: what `runs` new runs of the person's would add to."""
    check_active(store, lim, runs)
    check_disk(store, store.person, lim)


def check_disk(store: "Store", person: Person, lim: Limits, adding: int = 0) -> None:
    if lim.disk_gb is None:
        return
    used = disk_used(store.root, person)
    if used + adding > lim.disk_gb * 1e9 or used >= lim.disk_gb * 1e9:
        raise LimitError(f"Your runs, sweeps, projects and uploads take {human_size(used)}"
                         + (f" (and this adds {human_size(adding)})" if adding else "")
                         + f", this server's limit is {lim.disk_gb:g} GB (disk_gb); delete runs you no longer need.")


def disk_used(runs_root: Path, person: Person) -> int:
    """Bytes of everything `person` owns under the runs folder: their runs, sweeps, labelling projects, uploads."""
    total = _size(uploads_dir(runs_root, person)) if not person.trusted else 0
    for kind in (RUNS, SWEEPS, LABELLING):
        for thing_id in kind.ids(runs_root):
            folder = kind.folder(runs_root, thing_id)
            if read_access(folder).owner == person.name:
                total += _size(folder)
    return total


def _size(folder: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def check_model_folder(store: "Store", model) -> None:
    """A base model named as a folder of this server: never one inside the runs folder that is not the person's to
    see (another person's fine-tuned model is theirs, however its path was learnt). Checked before the folder is
    looked at, so what is not theirs reads the same whether it exists or not."""
    if store.person.sees_all or not isinstance(model, (str, Path)):
        return
    text = str(model).strip()
    if not (isinstance(model, Path) or text.startswith(("/", ".", "~"))):
        return  # a catalog name or a hub id
    path = Path(text).expanduser()
    if not is_within(path, [store.root]):
        return
    rel = path.resolve().relative_to(store.root)
    run_id = rel.parts[0] if rel.parts else ""
    if not RUNS.is_id(run_id) or not read_access(store.root / run_id).can_see(store.person):
        raise LimitError("model: that folder is not one of yours on this server; pick a catalog model, a hub id, or "
                         "a run of yours.")


def readable_roots(store: "Store", person: Person) -> list[Path]:
    """Where a person's run may read data files from: the bundled samples, their uploads, their labelling projects."""
    roots = [SAMPLES_DIR, uploads_dir(store.root, person)]
    for project_id in LABELLING.ids(store.root):
        folder = LABELLING.folder(store.root, project_id)
        if read_access(folder).can_change(person):
            roots.append(folder)
    return roots


def check_files(store: "Store", cfg) -> None:
    """Every file the run would read is one the person may read: never a path of the server's own."""
    if store.person.sees_all:
        return
    roots = None
    for section, name in DATA_FILES:
        value = getattr(getattr(cfg, section), name, None)
        if not value:
            continue
        roots = roots if roots is not None else readable_roots(store, store.person)
        if not is_within(value, roots):
            raise LimitError(f"{section}.{name}: that file is not one of yours on this server; upload it in the Data "
                             "tab (or pick a bundled sample).")
