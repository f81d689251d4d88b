"""`strongroom doctor mobile USER`, `doctor server` and `mobile query-pin`.

The doctor commands print one line per check with a coloured status, the
evidence beneath it and, for anything not passing, the fix. `--json` prints
the report's stable document instead (see strongroom.server.doctor.report).
The exit code is 0 when no check failed and 1 otherwise, so scripts and
monitoring can run them.
"""

import json
import logging
import re
from typing import Any

import typer
from rich.markup import escape

from strongroom.server.cli.common import STATE, JsonOption, console, operation
from strongroom.server.doctor.probe import (
    NetworkProbe,
    PinResult,
    ProbeFailed,
    parse_target,
    query_pin,
)
from strongroom.server.doctor.report import Check, Report, Status
from strongroom.server.doctor.service import (
    DEFAULT_TIMEOUT,
    diagnose_installation,
    diagnose_mobile,
)
from strongroom.server.settings import service as settings_service

log = logging.getLogger(__name__)

doctor_app = typer.Typer(
    help="The troubleshooter: why a phone cannot connect or sync.",
    no_args_is_help=True,
)

TimeoutOption = typer.Option(
    DEFAULT_TIMEOUT,
    "--timeout",
    min=0.1,
    max=60.0,
    help="Seconds each network step may take before it counts as timed out.",
)

_STYLE = {
    Status.PASS: ("PASS", "bold green"),
    Status.WARN: ("WARN", "bold yellow"),
    Status.FAIL: ("FAIL", "bold red"),
    Status.SKIPPED: ("SKIP", "dim"),
}
_VALUE_LIMIT = 160
_INDENT = " " * 8
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")
_WORD = re.compile(r"\S*`[^`]*`\S*|\S+")


@doctor_app.command("mobile")
def doctor_mobile(
    user: str = typer.Argument(..., help="The user, `name` or `DOMAIN\\name`."),
    as_json: bool = JsonOption,
    timeout: float = TimeoutOption,
) -> None:
    """Walk the whole path USER's phone depends on and say what is wrong."""
    report = diagnose_mobile(STATE.instance(), user, timeout=timeout)
    _finish(report, as_json)


@doctor_app.command("server")
def doctor_server(as_json: bool = JsonOption, timeout: float = TimeoutOption) -> None:
    """Check the installation: schema, key, database, certificate, secret, clock."""
    # Not STATE.instance(): opening refuses a missing key or a schema that is
    # behind, which are exactly what this command must report.
    report = diagnose_installation(STATE.settings(), timeout=timeout)
    _finish(report, as_json)


def _require_same_instance(
    url: str, result: PinResult, our_id: str, timeout: float
) -> None:
    # Pinning another instance's App Server (or any TLS server) would pair
    # phones with a server that does not hold their lists; ask it who it is.
    target = parse_target(url)
    answer = NetworkProbe().get(
        result.address, target.port, target.host, "/health", timeout=timeout
    )
    try:
        theirs = json.loads(answer.body).get("instance_id")
    except (ValueError, AttributeError):
        theirs = None
    if theirs != our_id:
        raise ProbeFailed(
            "instance",
            f"the server at {url} is not this instance's App Server (its /health "
            f"answered {answer.status} naming instance {theirs!r}); nothing stored",
            hint="check the app_server_url setting and that the App Server there "
            "uses this database",
        )


def query_pin_command(
    timeout: float = typer.Option(
        5.0, "--timeout", min=0.1, max=60.0, help="Seconds each network step may take."
    ),
) -> None:
    """Fetch the public-key pin from the live App Server URL and store it.

    The certificate is read without trusting it (the App Server's own is
    self-signed). A name that does not resolve, a refused or silent port, a
    failed TLS handshake, a certificate for another name or an expired one
    each get their own message, and nothing is stored.
    """
    with operation() as (_instance, session, _actor):
        url = settings_service.get(session, "app_server_url")
        old_pin = str(settings_service.get(session, "app_server_pin") or "")
        our_id = settings_service.instance_id(session)

    # The network step runs outside any transaction: SQLite would hold its
    # write lock for as long as the App Server takes to answer.
    result = query_pin(str(url or ""), timeout=timeout)
    _require_same_instance(str(url), result, our_id, timeout)

    with operation() as (_instance, session, actor):
        settings_service.store_pin(session, actor, result.pin)
    log.info("pin_stored changed=%s", result.pin != old_pin)
    console.print(
        f"Stored the App Server pin [bold]{result.pin}[/bold]",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"  from {escape(str(url))} at {result.address}; certificate names "
        f"{escape(', '.join(result.cert_names))}, valid until "
        f"{result.not_after.date().isoformat()}",
        highlight=False,
        soft_wrap=True,
    )
    if old_pin and old_pin != result.pin:
        console.print(
            f"  [yellow]The pin changed (was {old_pin}): phones paired before must "
            "pair again with a new QR code.[/yellow]",
            highlight=False,
            soft_wrap=True,
        )


# --- output ---------------------------------------------------------------------------


def _finish(report: Report, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        render(report)
    raise typer.Exit(0 if report.ok else 1)


def render(report: Report) -> None:
    """Print a report: a coloured status per check, evidence, and the fixes."""
    console.print(f"[bold]Strongroom doctor[/bold] · {escape(report.subject)}")
    for check in report.checks:
        _render_check(check)
    counts = report.counts()
    verdict = (
        "[bold green]OK[/bold green]" if report.ok else "[bold red]FAILED[/bold red]"
    )
    console.print(
        f"{verdict}: {counts['pass']} passed, {counts['warn']} warning(s), "
        f"{counts['fail']} failed, {counts['skipped']} skipped",
        highlight=False,
    )


def _render_check(check: Check) -> None:
    label, style = _STYLE[check.status]
    console.print(
        f" [{style}]{label}[/{style}]  {escape(check.title)}", highlight=False
    )
    width = max(console.width - len(_INDENT), 40)
    for tokens in evidence_lines(check.evidence):
        for part in _pack(tokens, width):
            console.print(
                f"{_INDENT}[dim]{escape(part)}[/dim]", highlight=False, soft_wrap=True
            )
    if check.fix:
        for number, part in enumerate(_pack(_words(f"fix: {check.fix}"), width)):
            shown = escape(part)
            if number == 0:
                shown = "[bold]fix:[/bold]" + shown[len("fix:") :]
            console.print(f"{_INDENT}{shown}", highlight=False, soft_wrap=True)


def _words(text: str) -> list[str]:
    # A command in backticks is one word: it must stay whole to be copied.
    return _WORD.findall(text)


def _pack(tokens: list[str], width: int) -> list[str]:
    """Lay tokens out in lines of at most `width`, never breaking one.

    Tokens are `key=value` pairs or words; pins, URLs, ids and timestamps
    (which hold a space) must stay whole to be read and copied. Continuation
    lines are indented by two spaces.
    """
    lines: list[str] = []
    current = ""
    for token in tokens:
        candidate = f"{current} {token}" if current else token
        if current and len(candidate) > width:
            lines.append(current)
            current = f"  {token}"
        else:
            current = candidate
    return [*lines, current] if current else lines


def evidence_lines(evidence: dict[str, Any]) -> list[list[str]]:
    """Evidence as lines of `key=value` tokens; lists of objects one per line."""
    flat: list[str] = []
    lines: list[list[str]] = []
    for key, value in evidence.items():
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) for v in value)
        ):
            lines.extend([f"{key}:", *_inline(item)] for item in value)
        else:
            flat.append(f"{key}={_short(value)}")
    return ([flat] if flat else []) + lines


def _inline(item: dict[str, Any]) -> list[str]:
    return [
        # Nothing to say (no failure yet, no name given) is left out of the line.
        f"{key}={_short(value)}"
        for key, value in item.items()
        if value not in (None, "")
    ]


def _short(value: Any) -> str:
    if isinstance(value, list):
        text = ",".join(_short(v) for v in value) or "[]"
    elif isinstance(value, dict):
        text = json.dumps(value, default=str, separators=(",", ":"))
    elif value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        # Seconds are enough on screen; --json keeps the full precision.
        text = value[:19].replace("T", " ") + "Z"
    else:
        text = str(value)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"
