"""Talking to the App Server: public-key pinning and the three API calls.

Trust comes from the pin in the QR code alone (SHA-256 of the certificate's
SubjectPublicKeyInfo): the TLS context skips chain and name checks, and its
socket classes compare the pin right after the handshake. A mismatch raises
inside connection setup, before httpx writes a single request byte, so a
server with another key learns nothing, not even the path.

`Connector` is the interface the device core uses; `HttpConnector` is the real
one. Tests may hand `HttpConnector` any `httpx.BaseTransport` (an in-process
App Server, a transport that drops replies), which bypasses the pinned socket.
"""

import logging
import ssl
from collections.abc import Callable
from typing import Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from strongroom.client.errors import (
    DeviceRevoked,
    PinMismatch,
    ServerError,
    ServerGarbage,
    ServerRefused,
    ServerTimeout,
    ServerUnreachable,
    WipeRequested,
)
from strongroom.crypto import tokens
from strongroom.crypto.pins import pin_of_der
from strongroom.protocol.errors import ErrorCode, ErrorResponse
from strongroom.protocol.schemas import (
    LogoutRequest,
    LogoutResponse,
    PairRequest,
    PairResponse,
    SyncRequest,
    SyncResponse,
)

log = logging.getLogger(__name__)

# The biggest reply the device accepts; a first sync of 100,000 records fits.
MAX_REPLY_BYTES = 512 * 1024 * 1024

ReplyT = TypeVar("ReplyT", bound=BaseModel)


class PinMismatchError(ssl.SSLCertVerificationError):
    """Raised inside the TLS handshake when the server key is not the pinned one."""


def _check_pin(context: ssl.SSLContext, der: bytes | None) -> None:
    expected = getattr(context, "expected_pin", None)
    actual = pin_of_der(der) if der else None
    # Fail closed: no certificate, or no pin configured, is a mismatch too.
    if not expected or actual is None or not tokens.equal(actual, expected):
        raise PinMismatchError("the server's public key does not match the pin")


class _PinnedSocket(ssl.SSLSocket):
    """A TLS socket that refuses the connection when the server key is not pinned."""

    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        try:
            _check_pin(self.context, self.getpeercert(binary_form=True))
        except PinMismatchError:
            self.close()
            raise


class _PinnedObject(ssl.SSLObject):
    """The same check for asyncio/anyio transports (memory-BIO TLS)."""

    def do_handshake(self) -> None:
        super().do_handshake()
        _check_pin(self.context, self.getpeercert(binary_form=True))


class PinnedContext(ssl.SSLContext):
    """An SSL context whose only trust anchor is `expected_pin`."""

    expected_pin: str


def pinned_context(pin: str) -> ssl.SSLContext:
    """A client TLS context that accepts exactly the key whose pin is `pin`."""
    context = PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
    # The QR code's pin is the trust anchor: a self-signed certificate or an
    # IP address in the URL is normal for an App Server, so chain and name
    # checks would only add ways to fail, not security.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.expected_pin = pin
    context.sslsocket_class = _PinnedSocket
    context.sslobject_class = _PinnedObject
    return context


class Connector(Protocol):
    """The mobile API as the device core sees it."""

    def pair(self, request: PairRequest) -> PairResponse:
        """POST /v1/pair."""

    def sync(self, request: SyncRequest) -> SyncResponse:
        """POST /v1/sync."""

    def logout(self, request: LogoutRequest) -> LogoutResponse:
        """POST /v1/logout."""

    def close(self) -> None:
        """Release connections."""


ConnectorFactory = Callable[[str, str], Connector]
"""Makes a Connector for (App Server URL, pin)."""


def _pinned_in_chain(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, PinMismatchError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _short_reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]


class HttpConnector:
    """The mobile API over HTTPS with the App Server's key pinned."""

    def __init__(
        self,
        base_url: str,
        pin: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        # trust_env=False: no proxy or CA bundle from the environment; the pin
        # is the whole trust decision and the App Server is reached directly.
        self._client = httpx.Client(
            base_url=self.base_url,
            verify=pinned_context(pin),
            timeout=timeout,
            trust_env=False,
            transport=transport,
            headers={"User-Agent": "strongroom-mobile"},
        )

    def pair(self, request: PairRequest) -> PairResponse:
        """Register this device; the reply carries its first credential."""
        return self._post("/v1/pair", request, PairResponse)

    def sync(self, request: SyncRequest) -> SyncResponse:
        """Send the cursor and queued events; receive the changes."""
        return self._post("/v1/sync", request, SyncResponse)

    def logout(self, request: LogoutRequest) -> LogoutResponse:
        """Revoke this device on the server."""
        return self._post("/v1/logout", request, LogoutResponse)

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def _post(self, path: str, body: BaseModel, reply: type[ReplyT]) -> ReplyT:
        content = body.model_dump_json().encode()
        try:
            response = self._client.post(
                path, content=content, headers={"Content-Type": "application/json"}
            )
        except httpx.TimeoutException as exc:
            log.info("server_timeout path=%s", path)
            raise ServerTimeout(self.base_url) from exc
        except httpx.HTTPError as exc:
            if _pinned_in_chain(exc):
                log.warning("pin_mismatch url=%s", self.base_url)
                raise PinMismatch() from exc
            log.info("server_unreachable path=%s error=%s", path, type(exc).__name__)
            raise ServerUnreachable(self.base_url, _short_reason(exc)) from exc
        except PinMismatchError as exc:
            raise PinMismatch() from exc
        return self._parse(response, reply)

    def _parse(self, response: httpx.Response, reply: type[ReplyT]) -> ReplyT:
        if len(response.content) > MAX_REPLY_BYTES:
            raise ServerGarbage(self.base_url, "the answer is too large")
        if response.status_code >= 400:
            raise self._refusal(response)
        if response.status_code != 200:
            raise ServerGarbage(self.base_url, f"HTTP {response.status_code}")
        try:
            return reply.model_validate_json(response.content)
        except ValidationError as exc:
            raise ServerGarbage(self.base_url, "not a Strongroom answer") from exc

    def _refusal(self, response: httpx.Response) -> ServerError:
        try:
            body = ErrorResponse.model_validate_json(response.content).error
        except ValidationError:
            return ServerGarbage(
                self.base_url, f"HTTP {response.status_code} without an error body"
            )
        log.info("server_refused code=%s", body.code.value)
        return refusal_error(
            body.code, body.message, body.retry_after_seconds, body.field
        )


def refusal_error(
    code: ErrorCode,
    message: str,
    retry_after_seconds: int | None = None,
    field: str | None = None,
) -> ServerRefused:
    """The typed error for an App Server error code."""
    kind: type[ServerRefused] = ServerRefused
    if code in (ErrorCode.DEVICE_REVOKED, ErrorCode.CREDENTIAL_REPLAYED):
        kind = DeviceRevoked
    elif code is ErrorCode.WIPE_REQUESTED:
        kind = WipeRequested
    return kind(code, message, retry_after_seconds=retry_after_seconds, field=field)


def http_connector_factory(
    connect_timeout: float = 10.0, read_timeout: float = 60.0
) -> ConnectorFactory:
    """A factory of real pinned connectors with these timeouts."""

    def make(url: str, pin: str) -> Connector:
        return HttpConnector(
            url, pin, connect_timeout=connect_timeout, read_timeout=read_timeout
        )

    return make
