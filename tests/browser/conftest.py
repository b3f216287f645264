"""Real-browser journeys: Chromium (Playwright), the Next.js example, gunicorn, fake providers.

Everything runs on loopback:

- ``http://app.idp.localhost:<port>``: the Next.js example (``next build``, then ``next start``),
  which proxies ``/api/auth``, ``/oauth2`` and ``/.well-known`` to idp. It is ``IDP_BASE_URL``, so
  the providers' callbacks reach idp through it.
- ``http://chat.idp.localhost:<port>``: the same site under a second subdomain, trusted, sharing
  the session through ``IDP_COOKIE_DOMAIN=idp.localhost``. (Chromium refuses ``Domain=localhost``,
  a top-level name, so the site lives one level down.)
- ``http://127.0.0.1:<port>``: gunicorn (``LiveServer``), the embed's static origin, the service,
  and the fake Google and Twitch.

Chromium maps ``*.idp.localhost`` to 127.0.0.1 itself (``--host-resolver-rules``). The browser is
Debian's ``/usr/bin/chromium`` (``scripts/install-browser``); Playwright never downloads one. The
Next.js example's ``node_modules`` come from ``npm ci`` (the Makefile): when they or the browser
are missing, the tests fail, they are never skipped.

These fixtures are package-scoped: the servers and the browser stop once this folder is done.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser.helpers import TIMEOUT_MS, Member, Topology, flask_cli, sign_in
from tests.browser.servers import NextSite, Process, SetupError, build_nextjs, start_or_fail
from tests.e2e.conftest import live_database_url
from tests.fakes import FakeGoogle, FakeTwitch, FakeUser
from tests.live import LiveServer, free_port

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP *.idp.localhost 127.0.0.1",
]
# Badge icons must be https URLs; the browser gets this one for any of them, without a network.
BADGE_ICONS = "https://badges.invalid/"
BADGE_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<path d="M8 1l2.1 4.3 4.7.7-3.4 3.3.8 4.7L8 11.8 3.8 14l.8-4.7L1.2 6l4.7-.7z" '
    'fill="#B45309"/></svg>'
)
REPORT = pytest.StashKey[pytest.TestReport]()
CONSOLE = pytest.StashKey[list[str]]()
SCREENSHOTS = pytest.StashKey[list[Path]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: a journey in a real browser (Chromium) through the Next.js example"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the call's report (for screenshots on failure) and attach the servers' logs."""
    report = yield
    if report.when == "call":
        item.stash[REPORT] = report
    if report.failed and isinstance(item, pytest.Function):
        for value in item.funcargs.values():
            if isinstance(value, LiveServer):
                report.sections.append(("gunicorn log", value.log()[-6000:]))
            elif isinstance(value, Process):
                report.sections.append((f"{value.name} log", value.log()))
        console = item.stash.get(CONSOLE, [])
        if console:
            report.sections.append(("browser console", "\n".join(console[-100:])))
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    shots = terminalreporter.config.stash.get(SCREENSHOTS, [])
    if shots:
        terminalreporter.write_line(f"browser screenshots: {shots[0].parent}")


# -- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def topology() -> Topology:
    return Topology(idp_port=free_port(), site_port=free_port())


@pytest.fixture(scope="package")
def nextjs_build(topology: Topology, tmp_path_factory: pytest.TempPathFactory) -> float:
    """``next build`` of examples/nextjs, once; the seconds it took."""
    try:
        return build_nextjs(topology.idp_url, tmp_path_factory.mktemp("next") / "build.log")
    except SetupError as error:
        problem = str(error)
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="package")
def google_provider() -> Iterator[FakeGoogle]:
    with FakeGoogle(client_id="browser-google", client_secret="browser-google-secret") as fake:
        yield fake


@pytest.fixture(scope="package")
def twitch_provider() -> Iterator[FakeTwitch]:
    with FakeTwitch(client_id="browser-twitch", client_secret="browser-twitch-secret") as fake:
        yield fake


@pytest.fixture
def fake_google(google_provider: FakeGoogle) -> FakeGoogle:
    """The fake Google, with its consent page (``#allow``, ``#cancel``)."""
    google_provider.reset()
    google_provider.interactive = True
    return google_provider


@pytest.fixture
def fake_twitch(twitch_provider: FakeTwitch) -> FakeTwitch:
    twitch_provider.reset()
    twitch_provider.interactive = True
    return twitch_provider


@pytest.fixture(scope="package")
def idp(
    migrated_database: str,
    tmp_path_factory: pytest.TempPathFactory,
    topology: Topology,
    google_provider: FakeGoogle,
    twitch_provider: FakeTwitch,
) -> Iterator[LiveServer]:
    """gunicorn behind the site: IDP_BASE_URL is the site's origin."""
    instance = tmp_path_factory.mktemp("browser-idp")
    env = {
        "IDP_BASE_URL": topology.site,
        "IDP_TRUSTED_ORIGINS": topology.chat,
        "IDP_COOKIE_DOMAIN": "idp.localhost",
        # Next.js rewrites forward X-Forwarded-For as the client sent it and add nothing, so with
        # the site exposed directly idp must trust no forwarded header (IDP_PROXY_COUNT=0).
        "IDP_PROXY_COUNT": "0",
        "IDP_UPSTREAM_TIMEOUT": "10",
        "IDP_GOOGLE_CLIENT_ID": google_provider.client_id,
        "IDP_GOOGLE_CLIENT_SECRET": google_provider.client_secret,
        "IDP_GOOGLE_ISSUER": google_provider.issuer,
        "IDP_TWITCH_CLIENT_ID": twitch_provider.client_id,
        "IDP_TWITCH_CLIENT_SECRET": twitch_provider.client_secret,
        "IDP_TWITCH_ISSUER": twitch_provider.issuer,
    }
    server = LiveServer(
        database_url=live_database_url(migrated_database, instance),
        instance=instance,
        env=env,
        port=topology.idp_port,
    )
    with server:
        yield server


@pytest.fixture(scope="package")
def site(
    nextjs_build: float,
    idp: LiveServer,
    topology: Topology,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[NextSite]:
    """``next start`` of the example, in front of idp."""
    server = NextSite(
        port=topology.site_port,
        idp_url=topology.idp_url,
        log_path=tmp_path_factory.mktemp("next-start") / "next.log",
    )
    started = start_or_fail(server)
    yield started
    started.stop()


# -- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser (as root)", pytrace=False)
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=120_000
        )
        yield browser
        browser.close()


def new_context(browser: Browser, console: list[str] | None = None) -> BrowserContext:
    context = browser.new_context(viewport={"width": 900, "height": 720})
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.route(
        f"{BADGE_ICONS}**",
        lambda route: route.fulfill(status=200, content_type="image/svg+xml", body=BADGE_ICON),
    )
    if console is not None:

        def watch(page: Page) -> None:
            page.on("console", lambda m: console.append(f"{page.url} [{m.type}] {m.text}"))
            page.on("pageerror", lambda e: console.append(f"{page.url} [pageerror] {e}"))

        context.on("page", watch)
    return context


@pytest.fixture(scope="package")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("IDP_BROWSER_SCREENSHOTS")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen)
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def context(
    chromium: Browser, request: pytest.FixtureRequest, screenshot_dir: Path
) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test; on failure, every open page is shot."""
    console: list[str] = []
    request.node.stash[CONSOLE] = console
    context = new_context(chromium, console)
    yield context
    report = request.node.stash.get(REPORT, None)
    if report is not None and report.failed:
        for number, page in enumerate(context.pages):
            try:
                page.screenshot(path=screenshot_dir / f"FAILED-{request.node.name}-{number}.png")
            except Exception as error:  # a diagnostic must not hide the failure
                console.append(f"screenshot failed: {error}")
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def shoot(screenshot_dir: Path, pytestconfig: pytest.Config) -> Callable[[Page, str], Path]:
    """Save a screenshot of the page's final state as ``<name>.png``."""

    def take(page: Page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        pytestconfig.stash.setdefault(SCREENSHOTS, []).append(path)
        return path

    return take


# -- a member with a presentation ---------------------------------------------------------------

ADA = FakeUser(sub="ada-1815", email="ada@example.com", name="Ada Lovelace")


@pytest.fixture(scope="package")
def ada(
    site: NextSite,
    idp: LiveServer,
    topology: Topology,
    chromium: Browser,
    google_provider: FakeGoogle,
) -> Member:
    """Ada signed in once before (another browser, no consent page), then an admin gave her a
    badge, a name colour and a flair with ``flask badges`` and ``flask users``."""
    google_provider.reset()
    google_provider.user = ADA
    context = new_context(chromium)
    try:
        page = context.new_page()
        page.goto(f"{topology.site}/")
        sign_in(page, google_provider)
        expect(page.locator("#user-name")).to_have_text(ADA.name or "")
    finally:
        context.close()
    assert ADA.email is not None
    flask_cli(
        idp,
        "badges",
        "create",
        "founder",
        "--label",
        "Founder",
        "--icon-url",
        f"{BADGE_ICONS}founder.svg",
        "--color",
        "#B45309",
    )
    flask_cli(idp, "users", "grant-badge", ADA.email, "founder")
    flask_cli(idp, "users", "set-name-color", ADA.email, "#E0457B")
    shown = flask_cli(idp, "users", "set-flair", ADA.email, "tea enjoyer", "--color", "#0E7490")
    assert shown["nameColor"] == "#E0457B", shown
    assert [b["id"] for b in shown["badges"]] == ["founder"], shown
    assert shown["flair"]["text"] == "tea enjoyer", shown
    return Member(
        upstream=ADA,
        id=shown["id"],
        name=ADA.name or "",
        name_color_rgb="rgb(224, 69, 123)",
        badge_label="Founder",
        flair="tea enjoyer",
    )
