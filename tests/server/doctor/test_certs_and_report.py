"""Certificate name matching, and the report's stable JSON document."""

import json

import pytest

from strongroom.crypto.certificates import make_self_signed
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
