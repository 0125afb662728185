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
        if bound is not None and value is not None and value > bound:  # an empty max_length is chosen under it
            raise LimitError(f"{field} {value:g} is above this server's limit of {bound:g} ({name}); lower it, or run "
                             "the studio on your own machine for bigger runs.")
    if t.num_machines > 1 and not lim.multi_machine:
        raise LimitError("training.num_machines: runs across several machines are off on this server (its policy "
                         "does not let a run dial other machines); set num_machines to 1.")
    if t.wandb and not lim.wandb:
        raise LimitError("training.wandb: logging to Weights & Biases is off on this server; turn it off (the run's "
                         "TensorBoard logs and metrics stay in its folder).")


def check_models(store: "Store", cfg, lim: Limits) -> None:
    """Every model a run names (its base; a paraphrase generator), checked as check_model says; the base's size
    counted as its task builds it, on the meta device (no weights are read)."""
    from studio.training.memory import shape

    check_model(store, cfg.model, lim, "model", lambda: shape(cfg).total)
    from studio.augment import GENERATING, check_generator, operations
    from studio.tasks import get_task

    task = get_task(cfg.task)
    if cfg.augment.copies and any(o in GENERATING for o in operations(cfg.augment, task)):
        check_model_folder(store, cfg.augment.generator, "augment.generator")
        check_generator(cfg.augment, task)  # "paraphrase needs its generator, and ..." for one that is not there
        check_model(store, cfg.augment.generator, lim, "augment.generator")


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


def check_disk(store: "Store", person: Person, lim: Limits, adding: int = 0, also: tuple[Path, ...] = ()) -> None:
    """Room on disk for `adding` more bytes of the person's (also: folders of theirs outside the runs folder, such as
    their downloads, counted too)."""
    if lim.disk_gb is None:
        return
    used = disk_used(store.root, person) + sum(_size(p) for p in also if Path(p).is_dir())
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


def check_model_folder(store: "Store", model, field: str = "model") -> None:
    """A model named as a folder of this server, by a person who is not an admin: given by its full path (a relative
    one means whatever the process's working folder holds: the runs folder itself, for a sweep's driver), and never
    one inside the runs folder that is not theirs to see (another person's fine-tuned model is theirs, however its
    path was learnt). Checked before the folder is looked at, so what is not theirs reads the same whether it exists
    or not."""
    if store.person.sees_all or not isinstance(model, (str, Path)):
        return
    text = str(model).strip()
    if not text:
        return
    path = Path(text).expanduser()
    if not path.is_absolute():
        if not any((base / path).exists() for base in (Path.cwd(), store.root)):
            return  # a catalog name or a hub id
        raise LimitError(f"{field}: give a model folder by its full path (or pick a catalog model or a hub id).")
    if not is_within(path, [store.root]):
        return
    rel = path.resolve().relative_to(store.root)
    run_id = rel.parts[0] if rel.parts else ""
    if not RUNS.is_id(run_id) or not read_access(store.root / run_id).can_see(store.person):
        raise LimitError(f"{field}: that folder is not one of yours on this server; pick a catalog model, a hub id, "
                         "or a run of yours.")


def check_model(store: "Store", model: str, lim: Limits, field: str = "model", size=None) -> None:
    """Everything a model a person names must pass before anything loads it (a run's base, a paraphrase generator, a
    labelling project's base, a tokenizer the Data tab counts with): not another person's folder, a folder only where
    the policy allows them, a hub id reachable with the person's own access, and no bigger than the policy allows
    (size: a function counting its parameters, or None to count them from its config)."""
    from studio import models
    from studio.base.policy import local_models_allowed

    check_model_folder(store, model, field)
    resolved = models.resolve(model, allow_local=local_models_allowed() and lim.local_models, materialize=False)
    if isinstance(resolved, str):  # a hub id: reachable, there, and the person's to use, before anything exists
        models.check_hub(resolved, token=store.hub_token(), cached_ok=store.person.sees_all or lim.server_secrets)
    if lim.model_billions is None:
        return
    from studio.training.memory import parameters_from_config

    try:
        size = size() if size is not None else parameters_from_config(model)
    except Exception as e:  # noqa: BLE001 - a size that cannot be read cannot be allowed under a bound
        raise LimitError(f"{field}: the size of {model} could not be read ({type(e).__name__}), and this server "
                         f"allows models up to {lim.model_billions:g} billion parameters; pick a catalog model."
                         ) from None
    if size > lim.model_billions * 1e9:
        raise LimitError(f"{field}: {model} has {size / 1e9:.2f} billion parameters, above this server's limit of "
                         f"{lim.model_billions:g} billion (model_billions); pick a smaller one.")


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
