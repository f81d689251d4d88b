"""Certificate names and dates, the report's stable JSON document, its CLI layout."""

import datetime
import io
import json
from unittest.mock import patch

import pytest
from rich.console import Console

from strongroom.crypto.certificates import make_self_signed
from strongroom.server.cli import doctor as doctor_cli
from strongroom.server.doctor.certs import inspect_pem, name_matches
from strongroom.server.doctor.report import Check, Report, Status


@pytest.mark.parametrize(
    ("name", "host", "matches"),
    [
        ("vault.example.com", "vault.example.com", True),
        ("Vault.Example.com", "vault.example.COM", True),
        ("vault.example.com.", "vault.example.com", True),
        ("*.example.com", "vault.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("v*.example.com", "vault.example.com", False),
        ("other.example.com", "vault.example.com", False),
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "127.0.0.2", False),
        ("::1", "0:0:0:0:0:0:0:1", True),
        ("*.0.0.1", "127.0.0.1", False),
        ("localhost", "127.0.0.1", False),
    ],
)
def test_name_matching(name: str, host: str, matches: bool) -> None:
    """Certificate names cover hosts per RFC 6125 (one-label wildcards, exact IPs)."""
    assert name_matches(name, host) is matches


def test_certificate_facts() -> None:
    """Names come from the subject alternative names, DNS and IP alike."""
    info = inspect_pem(make_self_signed(["vault.example.com", "10.0.0.5"]).cert_pem)
    assert info.names == ["vault.example.com", "10.0.0.5"]
    assert info.names_host("10.0.0.5")
    assert not info.names_host("10.0.0.6")
    assert len(info.pin) == 44


def test_report_document_shape() -> None:
    """to_dict gives the documented keys; ok is false exactly when a check fails."""
    report = Report(
        "mobile:alice",
        [
            Check("dns", "DNS answer", Status.PASS, {"addresses": ["10.0.0.5"]}),
            Check("tcp_port", "TCP", Status.WARN, {}, "open it"),
            Check("tls_handshake", "TLS", Status.SKIPPED, {"reason": "no address"}),
        ],
    )
    document = json.loads(json.dumps(report.to_dict()))
    assert document == {
        "format": 1,
        "subject": "mobile:alice",
        "ok": True,
        "counts": {"pass": 1, "warn": 1, "fail": 0, "skipped": 1},
        "checks": [
            {
                "id": "dns",
                "title": "DNS answer",
                "status": "pass",
                "evidence": {"addresses": ["10.0.0.5"]},
                "fix": None,
            },
            {
                "id": "tcp_port",
                "title": "TCP",
                "status": "warn",
                "evidence": {},
                "fix": "open it",
            },
            {
                "id": "tls_handshake",
                "title": "TLS",
                "status": "skipped",
                "evidence": {"reason": "no address"},
                "fix": None,
            },
        ],
    }
    report.checks.append(Check("pin", "Pin", Status.FAIL, {}, "query it"))
    assert report.ok is False
    assert report.get("pin").fix == "query it"


def test_per_address_outcomes_combine_to_the_worst() -> None:
    """With several addresses the worst outcome speaks, and each is listed."""
    from strongroom.server.doctor.network import _combine, _Seen

    check = _combine(
        "pin",
        "Live public-key pin equals the stored pin",
        [
            _Seen("10.0.0.5", Status.PASS, {"live_pin": "A"}),
            _Seen("10.0.0.6", Status.FAIL, {"live_pin": "B"}, "fix node 2"),
        ],
    )
    assert check.status is Status.FAIL
    assert check.fix == "fix node 2"
    assert check.evidence == {
        "address": "10.0.0.6",
        "live_pin": "B",
        "per_address": [
            {"address": "10.0.0.5", "status": "pass", "live_pin": "A"},
            {"address": "10.0.0.6", "status": "fail", "live_pin": "B"},
        ],
    }


def test_days_left_counts_toward_zero() -> None:
    """A certificate that expired 25 hours ago is -1 day, one due in 25 hours +1."""
    info = inspect_pem(make_self_signed(["vault.example.com"]).cert_pem)
    hours = datetime.timedelta(hours=25)
    assert info.days_left(info.not_after + hours) == -1
    assert info.days_left(info.not_after - hours) == 1
    assert info.expired(info.not_after + hours)


def test_cli_lines_keep_timestamps_pins_and_commands_whole() -> None:
    """Wrapped evidence and fixes break between values, never inside a timestamp,
    a pin or a command in backticks."""
    pin = "0wSUMmnZBo3BlNmpNzlkuk9bXKB49Nbh1rgcCI6/u2Q="
    check = Check(
        "qr_current",
        "alice's QR code predates the last change",
        Status.FAIL,
        {
            "credential_set_at": "2026-12-04T04:25:07.084107+00:00",
            "qr_issued_at": "2026-12-04T04:25:12.756015+00:00",
            "live_pin": pin,
            "devices": [{"id": "d1", "last_sync_at": None, "status": "active"}],
        },
        fix="Show alice a new one (Preferences, or `strongroom mobile qr alice`) "
        "and pair again.",
    )
    out = io.StringIO()
    narrow = Console(file=out, width=60, color_system=None)
    with patch.object(doctor_cli, "console", narrow):
        doctor_cli.render(Report("mobile:alice", [check]))
    lines = out.getvalue().splitlines()

    assert lines[1] == " FAIL  alice's QR code predates the last change"
    assert "        credential_set_at=2026-12-04 04:25:07Z" in lines
    assert "          qr_issued_at=2026-12-04 04:25:12Z" in lines
    assert f"          live_pin={pin}" in lines
    # A list of objects: one line each, empty values left out.
    assert "        devices: id=d1 status=active" in lines
    assert "          `strongroom mobile qr alice`) and pair again." in lines
    # Only a value longer than the width itself (the pin) may stick out.
    assert all(len(line) <= 60 for line in lines if pin not in line)
