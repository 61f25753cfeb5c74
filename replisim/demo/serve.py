"""``python -m replisim.demo.serve <solara run arguments>``: Solara's ``run`` command, with the page's server
answering only requests addressed to this machine by name.

Binding to 127.0.0.1 keeps other machines out, but not a web page in the teacher's own browser: a page from
anywhere can make that browser send requests to 127.0.0.1 under a hostname its attacker controls (DNS
rebinding) and drive the demo. Starlette's ``TrustedHostMiddleware`` answers such requests "400 Invalid host
header": only ``Host: 127.0.0.1[:port]`` and ``localhost[:port]`` reach the app (``ALLOWED_HOSTS``).

Solara's ``run`` hands uvicorn the import string ``solara.server.starlette:app``; this module runs the same
command with that string pointed at ``app`` here, which wraps Solara's application (imported when uvicorn asks
for it, after ``run`` has set Solara's settings from its options).
"""

from __future__ import annotations

import sys

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SOLARA_APP = "solara.server.starlette:app"


def __getattr__(name: str):
    if name != "app":
        raise AttributeError(name)
    from solara.server.starlette import app as solara_app
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    return TrustedHostMiddleware(solara_app, allowed_hosts=ALLOWED_HOSTS)


def main(argv: list[str]) -> None:
    import solara.__main__ as solara_main
    import uvicorn

    class Config(uvicorn.Config):
        def __init__(self, app, *args, **kwargs):
            super().__init__(f"{__name__}:app" if app == SOLARA_APP else app, *args, **kwargs)

    solara_main.uvicorn.Config = Config  # the one place Solara builds uvicorn's configuration
    sys.argv = ["solara", *argv]
    solara_main.main()


if __name__ == "__main__":
    main(sys.argv[1:])
