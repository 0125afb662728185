"""Gradio 6.31's status tracker leaks an animation-frame loop, mended in the tests' pages.

A status tracker that goes `pending` starts a requestAnimationFrame loop (its elapsed-time counter) that runs until
the tracker sees its status change. A tracker taken off the page while still pending never sees that change, so its
loop runs at 60 frames a second for as long as the page is open: the app's own loading tracker does it on every page
load, and events that hide or re-render their outputs add more (two loops after load, and a page that had visited
every tab was drawing 120 frames a second with nothing on it moving: bench/RESULTS.md, "The test suite's minutes").
On two cores those frames are a Chromium renderer busy for every browser test's whole length.

The mend is one condition in the loop: it stops once Svelte has unbound the tracker's element (it sets the bound
variable to null when the component is destroyed). Live trackers are untouched, so the pages animate as a person's
do. A Gradio whose statustracker no longer has this shape fails `test_gradio_frames.py` with what to check, rather
than silently losing the mend.
"""

from __future__ import annotations

import re
from pathlib import Path

ASSET_GLOB = "**/assets/statustracker-*.js"
# function ze(){me(()=>{F(Pe,(performance.now()-w(de))/1e3),W&&ze()})}: the loop, its flag (W) and its name (ze).
LOOP = re.compile(r"function (?P<loop>[\w$]+)\(\)\{[\w$]+\(\(\)=>\{[\w$]+\([\w$]+,\(performance\.now\(\)-[\w$]+\("
                  r"[\w$]+\)\)/1e3\),(?P<flag>[\w$]+)&&(?P=loop)\(\)\}\)\}")
# ne($,e=>U=e,()=>U): Svelte's bind:this of the tracker's element, just after its pending block.
BOUND = re.compile(r",e=>(?P<el>[\w$]+)=e,\(\)=>(?P=el)\)")
PENDING_BLOCK = "status===`pending`?e("


class GradioChanged(AssertionError):
    pass


def installed_asset() -> Path:
    import gradio

    found = sorted((Path(gradio.__file__).parent / "templates" / "frontend" / "assets").glob("statustracker-*.js"))
    if not found:
        raise GradioChanged("gradio ships no statustracker-*.js any more: see whether its loop still leaks")
    return found[0]


def mend(js: str) -> str:
    """The statustracker module with its loop stopping once its tracker is gone."""
    loop = LOOP.search(js)
    block = js.find(PENDING_BLOCK)
    bound = BOUND.search(js, block) if block >= 0 else None
    if not loop or not bound:
        raise GradioChanged(f"gradio's status tracker changed shape (loop found: {bool(loop)}, element binding found: "
                            f"{bool(bound)}): see whether it still leaks its frame loop (tests/components/"
                            "gradio_frames.py says how to look), then mend it again or drop the mend")
    flag, name, el = loop["flag"], loop["loop"], bound["el"]
    fixed = loop[0].replace(f"{flag}&&{name}()", f"{flag}&&{el}!==null&&{name}()")
    return js[:loop.start()] + fixed + js[loop.end():]


def _fulfil(route) -> None:
    response = route.fetch()
    route.fulfill(response=response, body=mend(response.text()))


def mend_frames(target) -> None:
    """Serve the mended statustracker to a Playwright page or browser context."""
    target.route(ASSET_GLOB, _fulfil)


# Counts animation-frame requests (window.__frames), to see that a page at rest draws nothing.
COUNT_FRAMES = """(() => {
  const request = window.requestAnimationFrame.bind(window);
  window.__frames = 0;
  window.requestAnimationFrame = (callback) => { window.__frames += 1; return request(callback); };
})();"""


def frames_per_second(page, seconds: float = 2.0) -> float:
    """Animation frames the page asked for per second over `seconds` (COUNT_FRAMES must be in its init scripts)."""
    before = page.evaluate("window.__frames")
    page.wait_for_timeout(seconds * 1000)
    return (page.evaluate("window.__frames") - before) / seconds
