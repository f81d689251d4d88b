"""The network side of `doctor mobile USER`: the path from a phone to the App Server.

The steps run in the order a phone takes them; a step whose input an earlier
step could not provide is SKIPPED with the reason. TLS-level steps run against
every address that accepted a TCP connection, because a phone may land on any
of them. Check ids and their evidence keys:

    app_server_url       url, host, port
    dns                  host, addresses, elapsed_ms (or error, error_kind)
    tcp_port             port, addresses: [{address, open, elapsed_ms | error}]
    tls_handshake        address, protocol, cipher, elapsed_ms (or error, error_kind)
    certificate_name     address, host, names, subject
    certificate_validity address, not_before, not_after, days_left
    pin                  address, live_pin, stored_pin
    health               address, url, http_status, body
    same_instance        address, our_instance_id, app_server_instance_id

When several addresses were checked, the top-level fields describe the one
with the worst outcome and `per_address` lists every address with its status.
"""

import datetime
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strongroom.server.doctor.certs import CertificateInfo, inspect_der
from strongroom.server.doctor.probe import (
    HttpAnswer,
    Probe,
    ProbeFailed,
    Target,
    TlsAnswer,
    parse_target,
)
from strongroom.server.doctor.report import Check, Status
from strongroom.server.settings.service import parse_app_server_url

EXPIRY_WARNING_DAYS = 30
HEALTH_PATH = "/health"
BODY_TEXT_LIMIT = 500

_SEVERITY = {Status.PASS: 0, Status.SKIPPED: 1, Status.WARN: 2, Status.FAIL: 3}

# Titles of the steps, also used when a step is skipped.
TITLES = {
    "app_server_url": "App Server URL is set and well-formed",
    "dns": "DNS answer for the App Server's host",
    "tcp_port": "TCP port open on every address",
    "tls_handshake": "TLS handshake",
    "certificate_name": "Certificate names the URL's host",
    "certificate_validity": "Certificate is within its validity period",
    "pin": "Live public-key pin equals the stored pin",
    "health": "App Server /health answers 200 and reaches the database",
    "same_instance": "App Server belongs to this instance",
}


@dataclass(frozen=True)
class Expected:
    """What the database says phones should find at the App Server URL."""

    url: Any
    stored_pin: str
    instance_id: str


@dataclass
class _Seen:
    """One address's outcome of one step."""

    address: str
    status: Status
    evidence: dict[str, Any]
    fix: str | None = None


@dataclass
class _Path:
    """What the steps learned so far, for the steps after them."""

    target: Target | None = None
    addresses: list[str] = field(default_factory=list)
    reachable: list[str] = field(default_factory=list)
    tls: dict[str, TlsAnswer] = field(default_factory=dict)
    certs: dict[str, CertificateInfo] = field(default_factory=dict)
    # Per address: the HTTP status and JSON body of GET /health.
    health: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)


def _combine(check_id: str, title: str, seen: list[_Seen]) -> Check:
    """One check from per-address outcomes: the worst one speaks for all."""
    worst = max(seen, key=lambda s: _SEVERITY[s.status])
    evidence = {"address": worst.address, **worst.evidence}
    if len(seen) > 1:
        evidence["per_address"] = [
            {"address": s.address, "status": str(s.status), **s.evidence} for s in seen
        ]
    return Check(check_id, title, worst.status, evidence, worst.fix)


def _failed(exc: ProbeFailed) -> dict[str, Any]:
    return {"error": exc.message, "error_kind": exc.kind}


def _skipped(check_id: str, reason: str) -> Check:
    return Check(check_id, TITLES[check_id], Status.SKIPPED, {"reason": reason})


# --- the steps ------------------------------------------------------------------------


def check_url(expected: Expected, path: _Path) -> Check:
    """The App Server URL setting is present and an https URL with a host."""
    raw = expected.url
    evidence: dict[str, Any] = {"url": raw}
    fix = (
        "Set the URL phones use: `strongroom settings set app_server_url "
        "https://HOST:PORT`."
    )
    if raw is None or str(raw).strip() == "":
        return Check(
            "app_server_url", "No App Server URL is set", Status.FAIL, evidence, fix
        )
    try:
        parse_app_server_url(raw)
        target = parse_target(str(raw))
    except (ValueError, ProbeFailed) as exc:
        evidence["error"] = str(getattr(exc, "message", exc))
        return Check(
            "app_server_url",
            "The App Server URL is not a valid https URL",
            Status.FAIL,
            evidence,
            fix,
        )
    path.target = target
    evidence.update(host=target.host, port=target.port)
    return Check(
        "app_server_url", f"App Server URL is {target.url}", Status.PASS, evidence
    )


def check_dns(probe: Probe, path: _Path, timeout: float) -> Check:
    """The URL's host resolves; its addresses are the evidence."""
    target = assert_target(path.target)
    title = f"DNS answer for {target.host}"
    if target.host_is_ip:
        path.addresses = [target.host]
        return Check(
            "dns",
            f"{target.host} is an IP address (no DNS lookup needed)",
            Status.PASS,
            {"host": target.host, "addresses": [target.host]},
        )
    try:
        started = _now()
        path.addresses = probe.resolve(target.host, target.port, timeout=timeout)
    except ProbeFailed as exc:
        evidence = {"host": target.host, **_failed(exc)}
        return Check("dns", title, Status.FAIL, evidence, _sentence(exc))
    evidence = {
        "host": target.host,
        "addresses": path.addresses,
        "elapsed_ms": _ms(started),
    }
    return Check("dns", f"{title}: {', '.join(path.addresses)}", Status.PASS, evidence)


def check_tcp(probe: Probe, path: _Path, timeout: float) -> Check:
    """The port accepts a TCP connection on every address DNS returned."""
    target = assert_target(path.target)
    results: list[dict[str, Any]] = []
    first_failure: ProbeFailed | None = None
    for address in path.addresses:
        try:
            elapsed = probe.connect(address, target.port, timeout=timeout)
        except ProbeFailed as exc:
            first_failure = first_failure or exc
            results.append({"address": address, "open": False, **_failed(exc)})
            continue
        path.reachable.append(address)
        results.append({"address": address, "open": True, "elapsed_ms": elapsed})

    evidence = {"port": target.port, "addresses": results}
    title = f"TCP port {target.port} open on every address"
    if first_failure is None:
        return Check("tcp_port", title, Status.PASS, evidence)
    closed = [r["address"] for r in results if not r["open"]]
    return Check(
        "tcp_port",
        f"TCP port {target.port} not reachable on {', '.join(closed)}",
        Status.FAIL,
        evidence,
        _sentence(first_failure),
    )


def check_tls(probe: Probe, path: _Path, timeout: float) -> Check:
    """A TLS handshake completes on every reachable address."""
    target = assert_target(path.target)
    seen: list[_Seen] = []
    for address in path.reachable:
        try:
            answer = probe.handshake(address, target.port, target.host, timeout=timeout)
        except ProbeFailed as exc:
            seen.append(_Seen(address, Status.FAIL, _failed(exc), _sentence(exc)))
            continue
        try:
            info = inspect_der(answer.cert_der)
        except ValueError as exc:
            error = {"error": f"the certificate cannot be read: {exc}"}
            fix = "The App Server presents a certificate that cannot be parsed."
            seen.append(_Seen(address, Status.FAIL, error, fix))
            continue
        path.tls[address] = answer
        path.certs[address] = info
        evidence = {
            "protocol": answer.protocol,
            "cipher": answer.cipher,
            "elapsed_ms": answer.elapsed_ms,
        }
        seen.append(_Seen(address, Status.PASS, evidence))
    check = _combine("tls_handshake", TITLES["tls_handshake"], seen)
    if check.status is Status.PASS:
        check.title = f"TLS handshake ({check.evidence['protocol']})"
    else:
        check.title = f"TLS handshake failed on {check.evidence['address']}"
    return check


def _sentence(exc: ProbeFailed) -> str:
    text = exc.message[:1].upper() + exc.message[1:]
    return f"{text}: {exc.hint}." if exc.hint else f"{text}."


def check_certificate_name(path: _Path) -> Check:
    """The certificate names the URL's host."""
    target = assert_target(path.target)
    seen = []
    for address, info in path.certs.items():
        evidence = {"host": target.host, "names": info.names, "subject": info.subject}
        if info.names_host(target.host):
            seen.append(_Seen(address, Status.PASS, evidence))
            continue
        fix = (
            f"The certificate names {', '.join(info.names) or 'nothing'}, not "
            f"{target.host}: give the App Server a certificate for {target.host}, or "
            "set an App Server URL with a name the certificate carries."
        )
        seen.append(_Seen(address, Status.FAIL, evidence, fix))
    check = _combine("certificate_name", TITLES["certificate_name"], seen)
    if check.status is Status.PASS:
        check.title = f"Certificate names {target.host}"
    else:
        check.title = f"Certificate does not name {target.host}"
    return check


def check_certificate_validity(path: _Path, now: datetime.datetime) -> Check:
    """The certificate has not expired (and warns within 30 days of expiry)."""
    seen = [_validity(address, info, now) for address, info in path.certs.items()]
    check = _combine("certificate_validity", TITLES["certificate_validity"], seen)
    if check.status is not Status.FAIL:
        check.title = f"Certificate valid until {check.evidence['not_after'][:10]}"
    return check


def _validity(address: str, info: CertificateInfo, now: datetime.datetime) -> _Seen:
    evidence = {
        "not_before": info.not_before.isoformat(),
        "not_after": info.not_after.isoformat(),
        "days_left": info.days_left(now),
    }
    renew = "then run `strongroom mobile query-pin` and have phones pair again."
    if info.expired(now):
        fix = (
            f"The certificate expired on {info.not_after.isoformat()}: give the App "
            f"Server a new certificate, {renew}"
        )
        return _Seen(address, Status.FAIL, evidence, fix)
    if info.not_yet_valid(now):
        fix = (
            f"The certificate is not valid before {info.not_before.isoformat()}: "
            "check this machine's clock and the App Server's."
        )
        return _Seen(address, Status.FAIL, evidence, fix)
    if info.days_left(now) < EXPIRY_WARNING_DAYS:
        fix = (
            f"The certificate expires in {info.days_left(now)} days: replace it soon, "
            f"{renew}"
        )
        return _Seen(address, Status.WARN, evidence, fix)
    return _Seen(address, Status.PASS, evidence)


def check_pin(path: _Path, stored_pin: str) -> Check:
    """The key the App Server presents is the one phones pinned."""
    seen = []
    for address, info in path.certs.items():
        evidence = {"live_pin": info.pin, "stored_pin": stored_pin or None}
        if not stored_pin:
            fix = (
                "No pin is stored, so QR codes carry none: run `strongroom mobile "
                "query-pin` once the App Server is the right one."
            )
            seen.append(_Seen(address, Status.FAIL, evidence, fix))
        elif info.pin != stored_pin:
            fix = (
                "The App Server presents a different key than phones pinned: if its "
                "certificate was replaced on purpose, run `strongroom mobile "
                "query-pin` and have phones pair again; if not, find what answers "
                "in its place."
            )
            seen.append(_Seen(address, Status.FAIL, evidence, fix))
        else:
            seen.append(_Seen(address, Status.PASS, evidence))
    check = _combine("pin", TITLES["pin"], seen)
    if check.status is Status.FAIL:
        check.title = (
            "No pin is stored"
            if not stored_pin
            else "Live pin differs from the stored pin"
        )
    return check


def check_health(probe: Probe, path: _Path, timeout: float) -> Check:
    """GET /health answers 200 and says the App Server reaches the database."""
    target = assert_target(path.target)
    seen = []
    for address in path.tls:
        url = f"https://{target.host}:{target.port}{HEALTH_PATH}"
        try:
            answer = probe.get(
                address, target.port, target.host, HEALTH_PATH, timeout=timeout
            )
        except ProbeFailed as exc:
            evidence = {"url": url, **_failed(exc)}
            seen.append(_Seen(address, Status.FAIL, evidence, _sentence(exc)))
            continue
        body = _body(answer)
        if isinstance(body, dict):
            path.health[address] = (answer.status, body)
        seen.append(_health_verdict(address, url, answer, body))
    check = _combine("health", TITLES["health"], seen)
    if check.status is Status.FAIL:
        status = check.evidence.get("http_status")
        check.title = (
            f"App Server /health answered HTTP {status}"
            if status
            else "App Server /health did not answer"
        )
    return check


def _body(answer: HttpAnswer) -> Any:
    text = answer.body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text[:BODY_TEXT_LIMIT]


def database_ok(body: Any) -> bool:
    """Read the health body's verdict on the database, in the forms it may take."""
    if not isinstance(body, dict):
        return False
    value = body.get("database")
    if isinstance(value, dict):
        value = value.get("ok", value.get("status"))
    return value is True or value == "ok"


def _health_verdict(address: str, url: str, answer: HttpAnswer, body: Any) -> _Seen:
    evidence = {"url": url, "http_status": answer.status, "body": body}
    if answer.status == 200 and database_ok(body):
        return _Seen(address, Status.PASS, evidence)
    if answer.status == 503:
        reason = _reason(body)
        fix = (
            f"The App Server cannot reach its database ({reason}): check the database "
            "is running and STRONGROOM_DATABASE_URL on the App Server host."
        )
        return _Seen(address, Status.FAIL, evidence, fix)
    fix = (
        f"The App Server answered HTTP {answer.status} to {HEALTH_PATH}: check that "
        "the URL points at a Strongroom App Server and read its log."
    )
    return _Seen(address, Status.FAIL, evidence, fix)


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("database", "reason", "detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if value and value != "ok":
                return str(value)
        return "the database does not answer"
    return str(body)[:200] or "no reason given"


def check_same_instance(path: _Path, our_instance_id: str) -> Check:
    """The App Server's instance id (from /health) is ours."""
    seen = []
    for address, (http_status, body) in path.health.items():
        theirs = body.get("instance_id")
        evidence = {
            "our_instance_id": our_instance_id,
            "app_server_instance_id": theirs,
        }
        if theirs is None and http_status != 200:
            # An App Server that never reached its database cannot know its
            # instance; the health check above already failed for that.
            continue
        if theirs is None:
            fix = "The App Server's health answer names no instance; check its version."
            seen.append(_Seen(address, Status.WARN, evidence, fix))
        elif str(theirs) != our_instance_id:
            fix = (
                f"The App Server serves instance {theirs}, not this one "
                f"({our_instance_id}): point it at this database "
                "(STRONGROOM_DATABASE_URL) or fix the App Server URL."
            )
            seen.append(_Seen(address, Status.FAIL, evidence, fix))
        else:
            seen.append(_Seen(address, Status.PASS, evidence))
    if not seen:
        return _skipped(
            "same_instance",
            "the App Server could not say which instance it serves (see health)",
        )
    check = _combine("same_instance", TITLES["same_instance"], seen)
    if check.status is Status.FAIL:
        check.title = "App Server belongs to another instance"
    return check


# --- the sequence --------------------------------------------------------------


def assert_target(target: Target | None) -> Target:
    """The parsed URL; the sequence only runs a step once it exists."""
    if target is None:
        raise RuntimeError("a network step ran without a parsed App Server URL")
    return target


def _now() -> float:
    return time.monotonic()


def _ms(started: float) -> float:
    return round((_now() - started) * 1000, 1)


def app_server_checks(
    expected: Expected, probe: Probe, *, timeout: float, now: datetime.datetime
) -> list[Check]:
    """Every network step, in order; later steps skip when earlier ones fail."""
    path = _Path()
    steps: list[tuple[str, Callable[[], Check], Callable[[], str | None]]] = [
        ("app_server_url", lambda: check_url(expected, path), lambda: None),
        (
            "dns",
            lambda: check_dns(probe, path, timeout),
            lambda: None if path.target else "the App Server URL is not usable",
        ),
        (
            "tcp_port",
            lambda: check_tcp(probe, path, timeout),
            lambda: None if path.addresses else "DNS gave no address",
        ),
        (
            "tls_handshake",
            lambda: check_tls(probe, path, timeout),
            lambda: None if path.reachable else "no address accepted a TCP connection",
        ),
        (
            "certificate_name",
            lambda: check_certificate_name(path),
            lambda: _no_tls(path),
        ),
        (
            "certificate_validity",
            lambda: check_certificate_validity(path, now),
            lambda: _no_tls(path),
        ),
        ("pin", lambda: check_pin(path, expected.stored_pin), lambda: _no_tls(path)),
        ("health", lambda: check_health(probe, path, timeout), lambda: _no_tls(path)),
        (
            "same_instance",
            lambda: check_same_instance(path, expected.instance_id),
            lambda: _no_tls(path) or _no_health(path),
        ),
    ]
    checks = []
    for check_id, run, blocked in steps:
        reason = blocked()
        checks.append(_skipped(check_id, reason) if reason else run())
    return checks


def _no_tls(path: _Path) -> str | None:
    return None if path.tls else "no TLS handshake completed"


def _no_health(path: _Path) -> str | None:
    return None if path.health else "the health check gave no JSON answer"
