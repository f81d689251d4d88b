"""The network steps a phone takes to reach the App Server, one at a time.

Each step (resolve the name, open the TCP port, complete the TLS handshake,
ask for `/health`) has its own timeout and, when it fails, raises ProbeFailed
whose `kind` says which step broke:

    invalid_url     the App Server URL is not an https URL with a host
    dns             the host name does not resolve
    refused         the connection was refused (or could not be made at all)
    timeout         a step got no answer within its timeout
    tls             the TLS handshake failed
    name_mismatch   the certificate does not name the URL's host
    expired         the certificate has expired (or is not valid yet)
    http            the App Server's answer was not HTTP (only from `get`)

`Probe` is the interface; `NetworkProbe` is the real implementation, which
the tests run against servers on loopback. `query_pin` uses it to fetch the
public-key pin of the live App Server.
"""

import datetime
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from strongroom.server.core.db import utcnow
from strongroom.server.core.errors import StrongroomError
from strongroom.server.doctor.certs import inspect_der

log = logging.getLogger(__name__)

DEFAULT_HTTPS_PORT = 443
MAX_BODY_BYTES = 64 * 1024

KINDS = (
    "invalid_url",
    "dns",
    "refused",
    "timeout",
    "tls",
    "name_mismatch",
    "expired",
    "http",
)

_HINTS = {
    "invalid_url": "set it with `strongroom settings set app_server_url "
    "https://HOST:PORT`",
    "dns": "check the host name in the App Server URL and that DNS here (and on "
    "the phones' network) resolves it",
    "refused": "start the App Server (`strongroom appserver`) or open its port "
    "in the firewall",
    "timeout": "check the firewall between here and the App Server, and that the "
    "App Server is running and not overloaded",
    "tls": "check that the port serves the App Server over HTTPS, not plain HTTP "
    "or another service",
    "name_mismatch": "give the App Server a certificate that names the URL's host, "
    "or set an App Server URL with a name the certificate carries",
    "expired": "replace the App Server certificate with a current one, then run "
    "`strongroom mobile query-pin`",
    "http": "check that the port serves the Strongroom App Server",
}


class ProbeFailed(StrongroomError):
    """A network step failed; `kind` names the step (see the module docstring)."""

    code = "probe_failed"
    http_status = 502

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        hint: str | None = None,
        address: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint or _HINTS.get(kind))
        self.kind = kind
        self.address = address


@dataclass(frozen=True)
class Target:
    """Where the App Server URL points: scheme https, a host, a port."""

    url: str
    host: str
    port: int

    @property
    def host_is_ip(self) -> bool:
        """True when the URL names an IP address instead of a host name."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def parse_target(url: str) -> Target:
    """Read the host and port from an App Server URL, or ProbeFailed(invalid_url)."""
    text = str(url).strip()
    if not text:
        raise ProbeFailed("invalid_url", "no App Server URL is set")
    parts = urlsplit(text)
    try:
        port = parts.port or DEFAULT_HTTPS_PORT
    except ValueError:
        raise ProbeFailed(
            "invalid_url", f"the App Server URL {text!r} has a port that is not valid"
        ) from None
    if parts.scheme != "https" or not parts.hostname:
        raise ProbeFailed(
            "invalid_url",
            f"the App Server URL {text!r} is not an https:// URL with a host name",
        )
    return Target(url=text, host=parts.hostname, port=port)


@dataclass(frozen=True)
class TlsAnswer:
    """What one TLS handshake showed: protocol, cipher and the peer certificate."""

    address: str
    protocol: str
    cipher: str
    cert_der: bytes
    elapsed_ms: float


@dataclass(frozen=True)
class HttpAnswer:
    """The status and (size-limited) body of one HTTP answer."""

    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class PinResult:
    """The live App Server's public-key pin and how it was found."""

    pin: str
    addresses: list[str]
    cert_names: list[str]
    not_after: datetime.datetime
    address: str = ""
    not_before: datetime.datetime | None = field(default=None)


class Probe(Protocol):
    """The network steps, each bounded by `timeout` seconds."""

    def resolve(self, host: str, port: int, *, timeout: float) -> list[str]:
        """The addresses `host` resolves to, in the resolver's order."""
        ...

    def connect(self, address: str, port: int, *, timeout: float) -> float:
        """Open and close a TCP connection; return how long it took (ms)."""
        ...

    def handshake(
        self, address: str, port: int, host: str, *, timeout: float
    ) -> TlsAnswer:
        """Complete a TLS handshake without trusting the peer; return what it showed."""
        ...

    def get(
        self, address: str, port: int, host: str, path: str, *, timeout: float
    ) -> HttpAnswer:
        """GET `path` over TLS from `address`, naming `host` in the request."""
        ...


def _untrusting_context() -> ssl.SSLContext:
    # The App Server's certificate is self-signed, and the point of these
    # steps is to learn which key it presents, so chain and name checks are
    # off here. Nothing secret is ever sent over such a connection; trust is
    # decided afterwards by comparing the key with the stored pin.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class NetworkProbe:
    """The real network: the system resolver, TCP sockets, OpenSSL."""

    def resolve(self, host: str, port: int, *, timeout: float) -> list[str]:
        """Resolve `host` in a helper thread, so a hanging resolver cannot hang us."""
        answers: list[str] = []
        errors: list[OSError] = []
        finished = threading.Event()

        def lookup() -> None:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                answers.extend(str(info[4][0]) for info in infos)
            except (OSError, UnicodeError) as exc:
                errors.append(OSError(str(exc)))
            finally:
                finished.set()

        # A daemon thread: getaddrinfo cannot be cancelled, and a resolver that
        # never answers must not keep the process alive after we give up.
        threading.Thread(target=lookup, name="doctor-dns", daemon=True).start()
        if not finished.wait(timeout):
            raise ProbeFailed(
                "timeout", f"the DNS lookup of {host} timed out after {timeout:g} s"
            )
        if errors or not answers:
            reason = errors[0] if errors else "no addresses"
            raise ProbeFailed("dns", f"the name {host} does not resolve ({reason})")
        return list(dict.fromkeys(answers))

    def connect(self, address: str, port: int, *, timeout: float) -> float:
        """Open a TCP connection to `address:port` and close it again."""
        started = time.monotonic()
        sock = _open(address, port, timeout)
        sock.close()
        return _ms_since(started)

    def handshake(
        self, address: str, port: int, host: str, *, timeout: float
    ) -> TlsAnswer:
        """Connect and complete a TLS handshake, returning the peer's certificate."""
        started = time.monotonic()
        tls = _tls_open(address, port, host, timeout)
        try:
            der = tls.getpeercert(binary_form=True)
            cipher = tls.cipher()
            protocol = tls.version() or "unknown"
        finally:
            tls.close()
        if not der:
            raise ProbeFailed(
                "tls",
                f"{_where(address, port)} presented no certificate",
                address=address,
            )
        return TlsAnswer(
            address=address,
            protocol=protocol,
            cipher=cipher[0] if cipher else "unknown",
            cert_der=der,
            elapsed_ms=_ms_since(started),
        )

    def get(
        self, address: str, port: int, host: str, path: str, *, timeout: float
    ) -> HttpAnswer:
        """GET `path` from the server at `address` (Host: `host`), body capped."""
        tls = _tls_open(address, port, host, timeout)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        # Hand http.client the socket we opened, so the request goes to this
        # address rather than wherever the name resolves next.
        conn.sock = tls
        try:
            conn.request("GET", path, headers={"Accept": "application/json"})
            response = conn.getresponse()
            body = response.read(MAX_BODY_BYTES)
            return HttpAnswer(
                status=response.status,
                content_type=response.getheader("Content-Type", "") or "",
                body=body,
            )
        except TimeoutError:
            raise ProbeFailed(
                "timeout",
                f"{_where(address, port)} did not answer GET {path} within "
                f"{timeout:g} s",
                address=address,
            ) from None
        except (http.client.HTTPException, OSError) as exc:
            raise ProbeFailed(
                "http",
                f"{_where(address, port)} gave no HTTP answer to GET {path} ({exc})",
                address=address,
            ) from None
        finally:
            conn.close()


def _where(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _open(address: str, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((address, port), timeout=timeout)
    except TimeoutError:
        raise ProbeFailed(
            "timeout",
            f"connecting to {_where(address, port)} timed out after {timeout:g} s",
            address=address,
        ) from None
    except ConnectionRefusedError:
        raise ProbeFailed(
            "refused",
            f"{_where(address, port)} refused the connection (nothing listens there)",
            address=address,
        ) from None
    except OSError as exc:
        raise ProbeFailed(
            "refused",
            f"could not connect to {_where(address, port)}: {exc.strerror or exc}",
            address=address,
        ) from None


def _tls_open(address: str, port: int, host: str, timeout: float) -> ssl.SSLSocket:
    sock = _open(address, port, timeout)
    sock.settimeout(timeout)
    # Send the host name as SNI, as a phone would; never for an IP literal.
    server_name = None if Target("", host, port).host_is_ip else host
    try:
        return _untrusting_context().wrap_socket(sock, server_hostname=server_name)
    except TimeoutError:
        sock.close()
        raise ProbeFailed(
            "timeout",
            f"the TLS handshake with {_where(address, port)} timed out after "
            f"{timeout:g} s",
            address=address,
        ) from None
    except ssl.SSLError as exc:
        sock.close()
        raise ProbeFailed(
            "tls",
            f"the TLS handshake with {_where(address, port)} failed: "
            f"{exc.reason or exc}",
            address=address,
        ) from None
    except OSError as exc:
        sock.close()
        raise ProbeFailed(
            "tls",
            f"{_where(address, port)} closed the connection during the TLS "
            f"handshake ({exc.strerror or type(exc).__name__})",
            address=address,
        ) from None


def first_handshake(
    probe: Probe, target: Target, addresses: list[str], *, timeout: float
) -> TlsAnswer:
    """Handshake with the first address that answers; raise the first failure."""
    failures: list[ProbeFailed] = []
    for address in addresses:
        try:
            return probe.handshake(address, target.port, target.host, timeout=timeout)
        except ProbeFailed as exc:
            # A refused or silent address may be one node of several; try the
            # next. A TLS failure means something answered wrongly: report it.
            if exc.kind not in {"refused", "timeout"}:
                raise
            failures.append(exc)
    raise failures[0]


def query_pin(
    url: str, *, timeout: float = 5.0, probe: Probe | None = None
) -> PinResult:
    """Fetch the public-key pin of the App Server at `url`, reading its
    certificate without trusting it.

    Refuses (ProbeFailed) when a network step fails, when the certificate
    does not name the URL's host, or when it has expired: a pin taken from
    such a certificate would only pair phones with a server they cannot use.
    """
    probe = probe or NetworkProbe()
    target = parse_target(url)
    addresses = probe.resolve(target.host, target.port, timeout=timeout)
    answer = first_handshake(probe, target, addresses, timeout=timeout)
    try:
        info = inspect_der(answer.cert_der)
    except ValueError as exc:
        raise ProbeFailed(
            "tls",
            f"the certificate at {_where(answer.address, target.port)} cannot be "
            f"read ({exc})",
            address=answer.address,
        ) from None
    now = utcnow()

    if not info.names_host(target.host):
        raise ProbeFailed(
            "name_mismatch",
            f"the certificate at {_where(answer.address, target.port)} does not "
            f"name {target.host}; it names {', '.join(info.names) or 'nothing'}",
            address=answer.address,
        )
    if info.expired(now):
        raise ProbeFailed(
            "expired",
            f"the certificate at {_where(answer.address, target.port)} expired on "
            f"{info.not_after.isoformat()}",
            address=answer.address,
        )
    if info.not_yet_valid(now):
        raise ProbeFailed(
            "expired",
            f"the certificate at {_where(answer.address, target.port)} is not valid "
            f"before {info.not_before.isoformat()} (check this machine's clock)",
            address=answer.address,
        )
    log.info("pin_queried host=%s address=%s", target.host, answer.address)
    return PinResult(
        pin=info.pin,
        addresses=addresses,
        cert_names=info.names,
        not_after=info.not_after,
        address=answer.address,
        not_before=info.not_before,
    )
