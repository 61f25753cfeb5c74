"""``replisim demo [--port N] [--no-open]``: serve the classroom page on http://127.0.0.1:N (default 8765).

The page is a Solara app (``replisim.demo.app``) run by ``solara run`` in a child process of this Python. It
binds to 127.0.0.1 only: the demo is for the machine at the front of the classroom, not for the network; and it
answers only requests addressed to 127.0.0.1 or localhost (``replisim.demo.serve``), so a web page cannot drive
it through DNS rebinding.
Production mode (no auto-reload, no check-in with solara.dev), no usage telemetry and no web-font download: the
demo runs offline, from the web assets that the ``solara-assets`` package installs.
"""

from __future__ import annotations

import os
import subprocess
import sys

DEFAULT_PORT = 8765
HOST = "127.0.0.1"
USAGE = "usage: replisim demo [--port N] [--no-open]"


class UsageError(Exception):
    """Bad command-line input: one line naming the option, the value and what is allowed."""


def parse(argv: list[str]) -> tuple[int, bool] | None:
    """(port, open_browser) from ``argv``, or None when help was asked for; raises UsageError."""
    port, open_browser = DEFAULT_PORT, True
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--no-open":
            open_browser = False
        elif arg == "--port" or arg.startswith("--port="):
            value = arg.partition("=")[2] if "=" in arg else (args.pop(0) if args else "")
            if not value.isdigit() or not 1 <= int(value) <= 65535:
                raise UsageError(f"--port={value!r} is not allowed; allowed: an integer from 1 to 65535")
            port = int(value)
        elif arg in ("-h", "--help"):
            return None
        else:
            raise UsageError(f"{arg!r} is not an option of replisim demo; allowed: --port N, --no-open")
    return port, open_browser


def command(port: int, open_browser: bool) -> list[str]:
    """The ``solara run`` command line of the demo."""
    # replisim.demo.serve: Solara's run, answering only requests addressed to 127.0.0.1 or localhost
    return [sys.executable, "-m", "replisim.demo.serve", "run", "replisim.demo.app", "--host", HOST, "--port", str(port),
            "--open" if open_browser else "--no-open", "--production", "--log-level", "warning"]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")  # no usage reports leave the classroom
    env.setdefault("SOLARA_ASSETS_FONTAWESOME_ENABLED", "False")  # a CDN font the page does not need
    env.setdefault("SOLARA_THEME_SHOW_BANNER", "False")  # "This website runs on Solara", over the charts
    return env


def main(argv: list[str]) -> int:
    """Entry point of ``replisim demo``; returns the exit code (2 for bad input)."""
    try:
        parsed = parse(argv)
    except UsageError as exc:
        print(f"replisim demo: {exc}", file=sys.stderr)
        return 2
    if parsed is None:
        print(f"{USAGE}\n\n{__doc__}")
        return 0
    port, open_browser = parsed
    print(f"replisim demo: serving on http://{HOST}:{port} (Ctrl+C to stop)", flush=True)
    try:
        return subprocess.call(command(port, open_browser), env=environment())
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
