"""Browser figures: accept → remote video, counter page readiness and weight, in headless Chromium.

The real app runs under uvicorn in this process on a loopback port with a fresh SQLite file
and the small test world (one caseworker, one Arabic interpreter). Two browser contexts drive
the real pages: the interpreter is available, the counter asks for Arabic, the interpreter
accepts; the clock runs from the accept click until *both* pages play the remote video
(`videoWidth > 0`). The call is ended and wrap-up closed, ten times over.

    .venv/bin/python bench/browser_call.py [--calls 10] [--loads 5]

Figures: `accept_to_remote_video_p50_ms` / `_p99_ms` over the calls; `counter_page_ready_ms`
(median navigation start → the page's `vd-ready` mark, catalogs and API data loaded);
`counter_page_bytes` (decoded HTML + JS + CSS the counter page loads; no build step). The last
line is one JSON object. Loopback only; bounded (about half a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broker.app import create_app  # noqa: E402
from broker.config import Environment, Settings  # noqa: E402
from broker.database import make_engine, make_sessionmaker  # noqa: E402
from broker.migrate import upgrade  # noqa: E402
from tests.conftest import PASSWORD, build_world, free_port  # noqa: E402
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

LOADED = "document.body.dataset.loaded === '1' && window.__vd.signal.state === 'open'"
PLAYING = "[...document.querySelectorAll('video.remote-video')].some(v => v.videoWidth > 0)"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def signed_in(browser, base: str, username: str):  # type: ignore[no-untyped-def]
    # Playwright polls string expressions with `eval`, which the app's CSP forbids (as in tests/web).
    context = await browser.new_context(base_url=base, bypass_csp=True)
    response = await context.request.post(f"{base}/api/auth/login", data={"username": username, "password": PASSWORD})
    assert response.ok, await response.text()
    return context, await context.new_page()


async def one_call(counter, interpreter, base: str) -> float:  # type: ignore[no-untyped-def]
    await counter.goto(f"{base}/counter.html")
    await counter.wait_for_function(LOADED)
    await counter.get_by_role("combobox", name="Sprache").fill("Arab")
    await counter.get_by_role("combobox", name="Sprache").press("Enter")
    await counter.get_by_role("button", name="Jetzt dolmetschen").click()
    accept = interpreter.get_by_role("button", name="Annehmen")
    await accept.wait_for()
    started = time.perf_counter()
    await accept.click()
    await asyncio.gather(counter.wait_for_function(PLAYING, polling="raf"),
                         interpreter.wait_for_function(PLAYING, polling="raf"))
    elapsed = (time.perf_counter() - started) * 1000
    await counter.get_by_role("button", name="Gespräch beenden").click()
    await counter.get_by_role("button", name="Ohne Bewertung schließen").click()
    await interpreter.get_by_role("button", name="Bereit für die nächste Anfrage").click()
    await interpreter.wait_for_function("document.body.dataset.status === 'available'")
    return elapsed


async def page_figures(browser, base: str, loads: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    context, page = await signed_in(browser, base, "caseworker_a")
    ready: list[float] = []
    weight = 0
    for _ in range(loads):
        await page.goto(f"{base}/counter.html")
        await page.wait_for_function("performance.getEntriesByName('vd-ready').length > 0")
        ready.append(await page.evaluate("performance.getEntriesByName('vd-ready')[0].startTime"))
        weight = await page.evaluate("""() => {
            const nav = performance.getEntriesByType('navigation')[0].decodedBodySize;
            return nav + performance.getEntriesByType('resource')
              .filter(r => /\\.(js|css)(\\?|$)/.test(r.name)).reduce((s, r) => s + r.decodedBodySize, 0);
        }""")
    await context.close()
    return statistics.median(ready), int(weight)


def bench_settings() -> Settings:
    """A fresh SQLite file, migrated (Alembic runs its own event loop, so before ours starts)."""
    tmp = tempfile.mkdtemp(prefix="vd-bench-browser-")
    base = f"http://127.0.0.1:{free_port()}"
    settings = Settings(environment=Environment.TEST, database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
                        secret_key="bench-secret-key-that-is-long-enough-0123456789", scheduler_enabled=False,
                        allowed_origins=[base], public_base_url=base)
    upgrade(settings)
    return settings


async def main(settings: Settings, calls: int, loads: int) -> dict[str, object]:
    from playwright.async_api import async_playwright

    base = settings.public_base_url
    port = int(base.rsplit(":", 1)[1])
    engine = make_engine(settings)
    async with make_sessionmaker(engine)() as db:
        await build_world(db)
    await engine.dispose()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           ws_per_message_deflate=False, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            ready_ms, page_bytes = await page_figures(browser, base, loads)
            _, interpreter = await signed_in(browser, base, "interpreter")
            _, counter = await signed_in(browser, base, "caseworker_a")
            await interpreter.goto(f"{base}/interpreter.html")
            await interpreter.wait_for_function(LOADED)
            await interpreter.get_by_role("button", name="Verfügbar", exact=True).click()
            await interpreter.wait_for_function("document.body.dataset.status === 'available'")
            samples = []
            for i in range(calls):
                samples.append(await asyncio.wait_for(one_call(counter, interpreter, base), timeout=60))
                print(f"call {i + 1}: accept → both remote videos {samples[-1]:.0f} ms", file=sys.stderr)
            await browser.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    return {
        "calls": calls,
        "accept_to_remote_video_p50_ms": round(percentile(samples, 0.5), 1),
        "accept_to_remote_video_p99_ms": round(percentile(samples, 0.99), 1),
        "counter_page_ready_ms": round(ready_ms, 1),
        "counter_page_bytes": page_bytes,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(bench_settings(), args.calls, args.loads))))
