"""Take screenshots of kb's pages for the docs: ``.venv/bin/python scripts/screenshots.py``.

Starts a throw-away kb (``kb init``, ``kb demo``, ``kb serve``) on a temporary data directory and a
free port, signs in through the real login form with the demo accounts in Chromium, and saves
PNGs (1280x800, and 390x844 for the phone shots) to docs/screenshots/. The server and the temporary data are removed at the end.

To add a page, add a ``Shot`` to ``SHOTS``: its file name (without .png), the path to open, and
the demo account to sign in as (``None`` for a page seen signed out).

Options: ``--out DIR`` to write elsewhere, ``--only NAME`` (repeatable) to take some shots only.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
# The virtualenv's bin/, which holds `kb`: the running Python's, else the project's .venv.
BIN = Path(sys.executable).parent if (Path(sys.executable).parent / "kb").exists() else ROOT / ".venv" / "bin"
DEMO_PASSWORD = "demo-password"
PHONE = (390, 844)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


class Shot(NamedTuple):
    name: str  # docs/screenshots/<name>.png
    path: str  # page to open, e.g. "/admin/users"
    email: str | None  # demo account to sign in as; None = signed out
    viewport: tuple[int, int] = (1280, 800)  # width, height; (390, 844) for a phone


SHOTS: list[Shot] = [
    Shot("login", "/login", None),
    Shot("home", "/", "admin@example.com"),
    Shot("admin-users", "/admin/users", "admin@example.com"),
    Shot("profile", "/profile", "admin@example.com"),
    Shot("articles", "/articles", "agent@example.com"),
    Shot("article", "/articles/2", "agent@example.com"),
    Shot("editor", "/entries/1/edit", "priya.nair@example.com"),
    Shot("search", "/search?q=refund+cancelled+order", "agent@example.com"),
    Shot("forum", "/questions", "agent@example.com"),
    Shot("review-dashboard", "/review", "expert@example.com"),
    Shot("admin-topics", "/admin/topics", "admin@example.com"),
    Shot("experts", "/experts?q=refund+to+a+closed+card", "agent@example.com"),
    Shot("knowledge-health", "/knowledge-health", "expert@example.com"),
    Shot("people", "/people/me", "maria.lopez@example.com"),
    Shot("admin", "/admin", "admin@example.com"),
    Shot("audit", "/admin/audit", "admin@example.com"),
    Shot("inbox", "/inbox", "author@example.com"),
    Shot("phone-search", "/search?q=refund", "agent@example.com", PHONE),
    Shot("phone-article", "/articles/2", "agent@example.com", PHONE),
    # The helpdesk side panel at the width of a helpdesk's sidebar.
    Shot("panel", "/panel?subject=Refund+for+a+cancelled+order&text=The+customer+cancelled+yesterday+and+"
         "wants+the+money+back&ticket=ZD-4711", "agent@example.com", (360, 800)),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(data_dir: Path) -> dict[str, str]:
    """The caller's environment without any KB_* setting, pointed at the temporary data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_ENV="development",
        KB_DATA_DIR=str(data_dir),
        KB_SECRET_KEY=secrets.token_urlsafe(48),
        KB_SEARCH_BACKEND="embedded",
    )
    return env


def _kb(*args: str, env: dict[str, str], cwd: Path) -> None:
    # cwd is the temporary dir, so a developer's .env in the project is not read.
    result = subprocess.run([str(BIN / "kb"), *args], env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"`kb {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _wait_for_health(base_url: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"kb serve exited with {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"kb serve did not answer {base_url}/healthz within {timeout:.0f} s")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def _login(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if page.url.split("?")[0].endswith("/login"):
        raise RuntimeError(f"could not sign in as {email}")


def take(shots: list[Shot], base_url: str, out_dir: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        sys.exit("Chromium was not found; install it with apt-get install -y chromium")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            # One browser context per account and screen size, so each signs in once per size.
            for email, viewport in dict.fromkeys((shot.email, shot.viewport) for shot in shots):
                width, height = viewport
                context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                              is_mobile=width < 600, has_touch=width < 600)
                context.set_default_timeout(10_000)
                page = context.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
                try:
                    if email:
                        _login(page, base_url, email)
                    for shot in (s for s in shots if (s.email, s.viewport) == (email, viewport)):
                        response = page.goto(f"{base_url}{shot.path}")
                        if response is None or response.status >= 400:
                            raise RuntimeError(f"{shot.path} answered {response.status if response else 'nothing'}")
                        page.wait_for_load_state("networkidle")
                        target = out_dir / f"{shot.name}.png"
                        page.screenshot(path=str(target), animations="disabled", caret="hide")
                        written.append(target)
                        print(f"  {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}  ({shot.path}, {email or 'signed out'})")
                finally:
                    context.close()
                if problems:
                    raise RuntimeError("the pages had errors:\n" + "\n".join(problems))
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where to write the PNGs")
    parser.add_argument("--only", action="append", metavar="NAME", help="take only this shot (repeatable)")
    args = parser.parse_args(argv)
    shots = [s for s in SHOTS if not args.only or s.name in args.only]
    unknown = set(args.only or ()) - {s.name for s in SHOTS}
    if unknown:
        parser.error(f"unknown shot(s): {', '.join(sorted(unknown))}; known: {', '.join(s.name for s in SHOTS)}")

    with tempfile.TemporaryDirectory(prefix="kb-screenshots-") as tmp:
        tmp_dir = Path(tmp)
        env = _environment(tmp_dir / "data")
        _kb("init", env=env, cwd=tmp_dir)
        _kb("demo", env=env, cwd=tmp_dir)
        _kb("reindex", env=env, cwd=tmp_dir)  # indexed and embedded before the first shot
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = (tmp_dir / "serve.log").open("w")
        server = subprocess.Popen(
            [str(BIN / "kb"), "serve", "--port", str(port)], env=env, cwd=tmp_dir, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_for_health(base_url, server)
            print(f"kb is serving on {base_url}; taking {len(shots)} screenshot(s):")
            take(shots, base_url, args.out)
        except Exception:
            _stop(server)
            log.close()
            sys.stderr.write("kb serve output:\n" + (tmp_dir / "serve.log").read_text())
            raise
        finally:
            _stop(server)
            log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
