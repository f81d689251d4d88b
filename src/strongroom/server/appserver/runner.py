"""Serving ASGI apps over TLS with uvicorn: several in one process, or one in a
background thread (tests, tools).

`serve_apps` runs one uvicorn server per app in a single asyncio loop, which
is how `strongroom serve` runs the web UI and the App Server side by side. The
signal handling is ours: uvicorn's own would let only the last server see
Ctrl-C.
"""

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from strongroom.server.core.errors import ConfigurationError

log = logging.getLogger(__name__)

# (app, host, port, certificate file, key file); no certificate means plain HTTP.
ServedApp = tuple[Any, str, int, Path | None, Path | None]


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to whoever runs it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _check_tls_files(cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        raise ConfigurationError(
            "give both a TLS certificate and its key, or neither",
            hint="pass --cert FILE --key FILE",
        )
    for path in (cert, key):
        if path is not None and not path.is_file():
            raise ConfigurationError(
                f"there is no TLS file at {path}",
                hint="run `strongroom init`, or pass --cert and --key",
            )


def make_config(
    app: Any, host: str, port: int, cert: Path | None, key: Path | None
) -> uvicorn.Config:
    """A uvicorn configuration serving `app` with Strongroom's choices.

    The configuration is loaded here, so a certificate that is not PEM or a
    key that does not belong to it is a ConfigurationError naming the files,
    before anything listens.
    """
    _check_tls_files(cert, key)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        log_config=None,
        server_header=False,
        # X-Forwarded-* are believed only on plain HTTP, which Strongroom serves
        # only behind a TLS-terminating proxy (`--no-tls`); with direct TLS no
        # proxy stands in front, so a local process could forge the address
        # the lockout and the audit log rely on.
        proxy_headers=cert is None,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=10,
    )
    try:
        config.load()
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(
            f"the TLS certificate {cert} and key {key} cannot be used "
            f"({_tls_reason(exc)})",
            hint="pass a PEM certificate with --cert and its own private key with "
            "--key (or run `strongroom init` for the default pair)",
        ) from exc
    return config


def _tls_reason(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason == "KEY_VALUES_MISMATCH":
        return "the key does not belong to the certificate"
    if isinstance(exc, ssl.SSLError):
        return "a file is not a PEM certificate or key"
    if isinstance(exc, PermissionError):
        return "a file cannot be read: permission denied"
    return exc.strerror or type(exc).__name__


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (0 picks a free port).

    Bound here rather than by uvicorn, so that a port in use or an address
    this machine does not have is one ConfigurationError naming it, not a
    traceback from inside the server.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {_bind_reason(exc)}",
            hint=_BIND_HINTS.get(
                exc.errno or 0, f"choose another address {_HOST_WHERE}"
            ),
        ) from exc
    sock.set_inheritable(True)
    return sock


# `appserver` and `web` take --host/--port; `serve` reads only the settings.
_PORT_WHERE = "(--port, or STRONGROOM_APPSERVER_PORT / STRONGROOM_WEB_PORT)"
_HOST_WHERE = "(--host, or STRONGROOM_APPSERVER_HOST / STRONGROOM_WEB_HOST)"
_BIND_HINTS = {
    errno.EADDRINUSE: f"stop what listens there, or choose another port {_PORT_WHERE}",
    errno.EACCES: f"ports below 1024 need privileges; choose another {_PORT_WHERE}",
    errno.EADDRNOTAVAIL: f"give an address of this machine {_HOST_WHERE}; "
    "0.0.0.0 means all",
}


def _bind_reason(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use"
    if exc.errno == errno.EACCES:
        return "permission denied"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    return exc.strerror or type(exc).__name__


def serve_apps(
    apps: Sequence[ServedApp], on_listening: Callable[[], None] | None = None
) -> None:
    """Serve every app until SIGINT or SIGTERM, all in this process.

    Every configuration is loaded and every socket bound before any server
    starts, so a bad certificate or a busy port stops them all with one
    ConfigurationError. `on_listening` runs once every socket is bound (the
    CLI says where each app listens).
    """
    servers = [_Server(make_config(*served)) for served in apps]
    sockets: list[socket.socket] = []
    try:
        for _app, host, port, _cert, _key in apps:
            sockets.append(listen(host, port))
    except ConfigurationError:
        for sock in sockets:
            sock.close()
        raise
    if on_listening is not None:
        on_listening()
    for app, host, port, cert, _key in apps:
        scheme = "https" if cert else "http"
        log.info(
            "server_starting app=%s url=%s://%s:%s",
            getattr(app, "title", "app"),
            scheme,
            host,
            port,
        )
    asyncio.run(_serve_all(servers, sockets))


async def _serve_all(servers: list[_Server], sockets: list[socket.socket]) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            # A second signal while shutting down stops without waiting.
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock]))
        for server, sock in zip(servers, sockets, strict=True)
    ]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        # One server ending (a bind failure, say) ends them all.
        stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


@dataclass
class RunningServer:
    """A server started by `run_in_thread`; `stop()` ends it."""

    host: str
    port: int
    tls: bool
    _server: _Server
    _thread: threading.Thread

    @property
    def url(self) -> str:
        """The base URL, e.g. `https://127.0.0.1:43121`."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to finish and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout)


def run_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    startup_timeout: float = 15.0,
) -> RunningServer:
    """Start `app` in a daemon thread on `host:port` (0 picks a free port).

    The socket is bound here, before the thread starts, so the port is known
    and already accepting connections when this returns.
    """
    config = make_config(app, host, port, tls_cert, tls_key)
    sock = listen(host, port)
    server = _Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])),
        name=f"uvicorn-{sock.getsockname()[1]}",
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise ConfigurationError("the server did not start")
        time.sleep(0.02)
    return RunningServer(
        host=host,
        port=int(sock.getsockname()[1]),
        tls=tls_cert is not None,
        _server=server,
        _thread=thread,
    )
