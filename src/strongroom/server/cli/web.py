"""`strongroom web`: serve the browser UI (and the REST API) over HTTPS."""

import importlib.util
import logging
from pathlib import Path

import typer

from strongroom.server.cli.common import STATE, console
from strongroom.server.core import logging_setup
from strongroom.server.core.errors import ConfigurationError, UsageError

log = logging.getLogger(__name__)

RUNNER_MODULE = "strongroom.server.appserver.runner"


def web(
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (default: web_host, 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        min=1,
        max=65535,
        help="Port to listen on (default: web_port, 8443).",
    ),
    cert: Path | None = typer.Option(
        None, "--cert", help="TLS certificate (PEM); default: the one `init` made."
    ),
    key: Path | None = typer.Option(
        None, "--key", help="The certificate's private key (PEM)."
    ),
    no_tls: bool = typer.Option(
        False,
        "--no-tls",
        help="Serve plain HTTP (only behind a TLS-terminating proxy).",
    ),
) -> None:
    """Serve the browser UI over HTTPS with the instance's certificate."""
    if (cert is None) != (key is None):
        raise UsageError("give --cert and --key together")
    settings = STATE.settings()
    logging_setup.configure(level=settings.log_level, fmt=settings.log_format)
    instance = STATE.instance()

    # Late import: building the app pulls in FastAPI and every page module,
    # which other commands never need.
    from strongroom.server.web.app import create_web_app

    app = create_web_app(instance)
    bind_host = host or settings.web_host
    bind_port = port or settings.web_port
    tls = settings.web_tls and not no_tls
    cert_file = (cert or settings.cert_file) if tls else None
    key_file = (key or settings.cert_key_file) if tls else None
    for path in (cert_file, key_file):
        if path is not None and not path.is_file():
            raise ConfigurationError(
                f"there is no TLS file at {path}",
                hint="run `strongroom init`, or pass --cert and --key",
            )

    scheme = "https" if tls else "http"
    console.print(
        f"Web UI on {scheme}://{bind_host}:{bind_port} (Ctrl-C stops it)",
        highlight=False,
        markup=False,
    )
    if importlib.util.find_spec(RUNNER_MODULE) is not None:
        from strongroom.server.appserver.runner import serve_apps

        serve_apps([(app, bind_host, bind_port, cert_file, key_file)])
        return

    import uvicorn

    uvicorn.run(
        app,
        host=bind_host,
        port=bind_port,
        ssl_certfile=str(cert_file) if cert_file else None,
        ssl_keyfile=str(key_file) if key_file else None,
        # Proxy headers only behind a proxy (`--no-tls`): see appserver.runner.
        proxy_headers=not tls,
        server_header=False,
        log_config=None,
    )
