"""Two people signed in at once, in headless Chromium, each see only their own runs, sweeps and labelling projects in
every tab; an admin sees both. Screenshots (people-*.png) land in tests/_artifacts/screenshots/."""

from __future__ import annotations

import re
import time

import pytest

from components.identity import Identity
from studio import sweeps
from studio.base import runfolder
from studio.base.access import Person
from studio.base.accounts import Accounts
from studio.config import RunConfig
from studio.data.uploads import uploads_dir
from studio.labels import labelling
from studio.runs.store import Store
from tests.components.test_browser import STILL, browser, chromium_present, open_tab, shot  # noqa: F401
from tests.components.ui_support import running_app, stop_active_runs
from tests.support import SUPPORT_TICKETS, separable_rows, tiny_config, write_csv

pytestmark = pytest.mark.slow
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}


def things_of(store: Store, name: str, model) -> dict[str, str]:
    """A finished run, a sweep and a labelling project of one person, made through the engine as theirs (the run is
    marked completed without training: only where it is listed matters here)."""
    person = Person(name)
    folder = uploads_dir(store.root, person)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "tickets.csv"
    data.write_bytes(SUPPORT_TICKETS.read_bytes())
    mine = store.as_person(person)
    raw = tiny_config(model, data, epochs=1, max_length=32)
    raw["name"] = f"{name}-run"
    run_id = mine.create(RunConfig.from_dict(raw), start=False, check_data=False)
    runfolder.write_status(store.run_dir(run_id), "completed", finished_at=time.time())
    mine.sync(run_id)
    sweep_id = sweeps.create(mine, RunConfig.from_dict(raw), {"training.epochs": {"choices": [1]}},
                             sweeps.settings_from({"trials": 1}), start=False)
    pool = folder / f"{name}-pool.csv"
    write_csv(pool, [{"text": r["text"]} for r in separable_rows(10, ("billing", "technical"), seed=7)])
    project_id = labelling.create(mine, str(pool), labels=["billing", "technical"], config=RunConfig.from_dict(raw),
                                  name=f"{name}-project")
    return {"run": run_id, "sweep": sweep_id, "project": project_id}


@pytest.fixture(scope="module")
def app(tmp_path_factory, ui_cache, ui_tiny_model):
    runs_dir = tmp_path_factory.mktemp("people-runs")
    store = Store(runs_dir)
    things = {name: things_of(store, name, ui_tiny_model) for name in ("alice", "bob")}
    accounts = Accounts()
    for name, pw in PASSWORDS.items():
        accounts.add(name, pw, admin=name == "carol")
    with running_app(runs_dir, auth=accounts.verify, identity=Identity("accounts", accounts), prewarm=False) as url:
        yield url, things
    stop_active_runs(runs_dir)


def sign_in(browser, url: str, name: str):  # noqa: F811
    """A browser context of its own (its own cookies), signed in through Gradio's login form."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="en-US")
    context.add_init_script(STILL)  # pages without motion (tests/components/test_browser.py)
    page = context.new_page()
    page.goto(url)
    page.get_by_label(re.compile("username", re.I)).fill(name)
    page.get_by_label(re.compile("password", re.I)).fill(PASSWORDS[name])
    page.get_by_role("button", name=re.compile("login", re.I)).click()
    page.wait_for_selector("#data-status .studio-msg-ok", timeout=60_000)
    page.wait_for_selector(f"#studio-who:has-text('Signed in as {name}')", timeout=30_000)
    return context, page


def options(page, elem_id: str) -> list[str]:
    """The choices a dropdown offers (opened, read, closed)."""
    page.locator(f"#{elem_id} input").first.click()
    page.wait_for_timeout(250)
    texts = [t.strip() for t in page.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    return texts


def seen_in_every_tab(page, who: str, tabs: tuple[str, ...] = ("Train", "Runs", "Sweep", "Label", "Playground",
                                                                "Export", "Data")) -> str:
    """Everything the person's tabs offer of runs, sweeps and projects, as one text (screenshots on the way)."""
    seen = []
    if "Train" in tabs:
        open_tab(page, "Train")
        seen += options(page, "run-picker")
    open_tab(page, "Runs")
    page.get_by_role("button", name="Refresh", exact=True).click()
    page.wait_for_timeout(800)
    seen.append(page.locator("#runs-table").inner_text())
    seen += options(page, "runs-run")
    shot(page, f"people-{who}-runs")
    open_tab(page, "Sweep")
    seen += options(page, "sweep-picker")
    open_tab(page, "Label")
    seen += options(page, "label-project")
    shot(page, f"people-{who}-label")
    if "Playground" in tabs:
        open_tab(page, "Playground")
        seen += options(page, "playground-run")
    if "Export" in tabs:
        open_tab(page, "Export")
        seen += options(page, "export-run")
    if "Data" in tabs:
        open_tab(page, "Data")
        page.locator("#distill-panel").get_by_text("Learn from a teacher run").click()
        page.locator("#distill-panel").get_by_role("button", name="Refresh the runs").click()
        page.wait_for_timeout(600)
        seen += options(page, "distill-teacher")
    return "\n".join(seen)


def test_two_people_at_once_each_see_their_own_and_an_admin_sees_both(app, browser):  # noqa: F811
    url, things = app
    alice_ctx, alice = sign_in(browser, url, "alice")
    bob_ctx, bob = sign_in(browser, url, "bob")  # both signed in at the same time
    try:
        for who, page, other in (("alice", alice, "bob"), ("bob", bob, "alice")):
            seen = seen_in_every_tab(page, who)
            for kind in ("run", "sweep", "project"):
                assert things[who][kind] in seen, (who, kind)
                assert things[other][kind] not in seen, (who, "sees", other, kind)
            assert f"{other}-run" not in seen and f"{other}-project" not in seen
    finally:
        alice_ctx.close()
        bob_ctx.close()
    carol_ctx, carol = sign_in(browser, url, "carol")
    try:
        assert "Signed in as carol (admin)" in carol.locator("#studio-who").inner_text()
        seen = seen_in_every_tab(carol, "carol-admin", tabs=())  # the Runs, Sweep and Label tabs
        for who in ("alice", "bob"):
            assert all(things[who][kind] in seen for kind in ("run", "sweep", "project")), who
    finally:
        carol_ctx.close()
