"""The network probe and `query_pin`, against real servers on loopback."""

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from strongroom.crypto.certificates import make_self_signed
from strongroom.server.doctor.probe import (
    NetworkProbe,
    ProbeFailed,
    parse_target,
    query_pin,
)
from tests.server.doctor.conftest import FAST, Served, expired_pair


def openssl_pin(cert_file: Path) -> str:
    """The pin as DESIGN.md's openssl pipeline computes it."""
    pubkey = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout", "-in", str(cert_file)],
        check=True,
        capture_output=True,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=pubkey,
        check=True,
        capture_output=True,
    ).stdout
    digest = subprocess.run(
        ["openssl", "dgst", "-sha256", "-binary"],
        input=der,
        check=True,
        capture_output=True,
    ).stdout
    return (
        subprocess.run(
            ["openssl", "base64"], input=digest, check=True, capture_output=True
        )
        .stdout.decode()
        .strip()
    )


def test_query_pin_matches_openssl(
    tls_server: Callable[..., Served], tmp_path: Path
) -> None:
    """The pin read from a live self-signed server is what openssl computes."""
    pair = make_self_signed(["localhost", "127.0.0.1"])
    served = tls_server(pair)
    cert_file = tmp_path / "live.crt"
    cert_file.write_bytes(pair.cert_pem)

    result = query_pin(served.url(), timeout=FAST)

    assert result.pin == openssl_pin(cert_file)
    assert result.addresses == ["127.0.0.1"]
    assert set(result.cert_names) == {"localhost", "127.0.0.1"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "no App Server URL is set"),
        ("http://vault.example.com", "not an https:// URL"),
        ("https://", "not an https:// URL"),
        ("vault.example.com:9443", "not an https:// URL"),
        ("https://vault.example.com:99999", "port that is not valid"),
        ("https://vault.example.com:abc", "port that is not valid"),
    ],
)
def test_malformed_urls_are_named(url: str, message: str) -> None:
    """A URL that cannot be probed fails as invalid_url with the reason."""
    with pytest.raises(ProbeFailed) as caught:
        parse_target(url)
    assert caught.value.kind == "invalid_url"
    assert message in caught.value.message


def test_unresolvable_name_is_dns() -> None:
    """A host under .invalid (RFC 6761) fails at the DNS step."""
    with pytest.raises(ProbeFailed) as caught:
        query_pin("https://vault.strongroom.invalid:9443", timeout=FAST)
    assert caught.value.kind == "dns"
    assert "vault.strongroom.invalid does not resolve" in caught.value.message


def test_closed_port_is_refused(closed_port: int) -> None:
    """A port where nothing listens fails as refused."""
    with pytest.raises(ProbeFailed) as caught:
        query_pin(f"https://127.0.0.1:{closed_port}", timeout=FAST)
    assert caught.value.kind == "refused"
    assert "refused the connection" in caught.value.message


def test_silent_peer_times_out(silent_port: int) -> None:
    """A peer that accepts and never answers TLS fails as timeout, in time."""
    with pytest.raises(ProbeFailed) as caught:
        query_pin(f"https://127.0.0.1:{silent_port}", timeout=0.5)
    assert caught.value.kind == "timeout"
    assert "TLS handshake" in caught.value.message
    assert "timed out after 0.5 s" in caught.value.message


def test_plain_http_port_fails_tls(tls_server: Callable[..., Served]) -> None:
    """A port that does not speak TLS fails at the TLS handshake."""
    import http.server
    import threading

    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ProbeFailed) as caught:
            query_pin(f"https://127.0.0.1:{httpd.server_address[1]}", timeout=FAST)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert caught.value.kind == "tls"
    assert "TLS handshake" in caught.value.message


def test_certificate_for_another_name(tls_server: Callable[..., Served]) -> None:
    """A certificate that does not name the URL's host fails as name_mismatch."""
    served = tls_server(make_self_signed(["vault.other.example"]))
    with pytest.raises(ProbeFailed) as caught:
        query_pin(served.url("127.0.0.1"), timeout=FAST)
    assert caught.value.kind == "name_mismatch"
    assert "does not name 127.0.0.1" in caught.value.message
    assert "vault.other.example" in caught.value.message


def test_expired_certificate(tls_server: Callable[..., Served]) -> None:
    """An expired certificate fails as expired, naming the day it ended."""
    pair = expired_pair()
    served = tls_server(pair)
    with pytest.raises(ProbeFailed) as caught:
        query_pin(served.url(), timeout=FAST)
    assert caught.value.kind == "expired"
    assert "expired on" in caught.value.message


def test_health_get_goes_to_the_named_address(
    tls_server: Callable[..., Served],
) -> None:
    """`get` asks the given address and returns status and body."""
    served = tls_server(make_self_signed(["localhost"]), status=503, body={"a": 1})
    answer = NetworkProbe().get(
        "127.0.0.1", served.port, "localhost", "/health", timeout=FAST
    )
    assert answer.status == 503
    assert answer.body == b'{"a": 1}'
