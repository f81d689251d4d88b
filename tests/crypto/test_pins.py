"""Pins match what openssl prints for the same certificate."""

import shutil
import subprocess

import pytest

from strongroom.crypto.certificates import make_self_signed
from strongroom.crypto.pins import pin_of_pem


def test_pin_matches_openssl() -> None:
    """The SPKI pin equals the openssl pipeline DESIGN.md quotes."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    pair = make_self_signed(["localhost", "127.0.0.1"])
    pipeline = (
        "openssl x509 -pubkey -noout | openssl pkey -pubin -outform der"
        " | openssl dgst -sha256 -binary | base64"
    )
    expected = (
        subprocess.run(
            ["bash", "-c", pipeline],
            input=pair.cert_pem,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    assert pin_of_pem(pair.cert_pem) == expected


def test_different_keys_give_different_pins() -> None:
    """Two certificates with their own keys have different pins."""
    first = make_self_signed(["localhost"])
    second = make_self_signed(["localhost"])
    assert pin_of_pem(first.cert_pem) != pin_of_pem(second.cert_pem)
