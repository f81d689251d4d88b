"""Public-key pins: SHA-256 of a certificate's SubjectPublicKeyInfo, base64.

This is the form `openssl x509 -pubkey | openssl pkey -pubin -outform der |
openssl dgst -sha256 -binary | base64` prints, and what phones pin.
"""

import base64
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def pin_of_certificate(cert: x509.Certificate) -> str:
    """Return the base64 SHA-256 of `cert`'s SubjectPublicKeyInfo."""
    spki = cert.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def pin_of_der(der: bytes) -> str:
    """Return the pin of a DER-encoded certificate."""
    return pin_of_certificate(x509.load_der_x509_certificate(der))


def pin_of_pem(pem: bytes) -> str:
    """Return the pin of a PEM-encoded certificate."""
    return pin_of_certificate(x509.load_pem_x509_certificate(pem))
