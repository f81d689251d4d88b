"""Reading an X.509 certificate for the troubleshooter: names, validity, pin.

Nothing here decides whether to trust a certificate; it only says what the
certificate claims, so a check can compare that with what phones expect.
"""

import datetime
import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from strongroom.crypto.pins import pin_of_certificate


@dataclass(frozen=True)
class CertificateInfo:
    """What a certificate says about itself."""

    subject: str
    names: list[str]
    not_before: datetime.datetime
    not_after: datetime.datetime
    pin: str

    def names_host(self, host: str) -> bool:
        """Tell whether any of the certificate's names covers `host`."""
        return any(name_matches(name, host) for name in self.names)

    def expired(self, now: datetime.datetime) -> bool:
        """True once the certificate's validity has ended."""
        return now >= self.not_after

    def not_yet_valid(self, now: datetime.datetime) -> bool:
        """True while the certificate's validity has not begun."""
        return now < self.not_before

    def days_left(self, now: datetime.datetime) -> int:
        """Whole days until the certificate expires (negative once expired).

        Counted toward zero, so a certificate that expired 25 hours ago is
        -1 day, not -2 as `timedelta.days` (which floors) would say.
        """
        return math.trunc((self.not_after - now).total_seconds() / 86400)

    def evidence(self) -> dict[str, Any]:
        """The certificate's facts as JSON-friendly evidence."""
        return {
            "subject": self.subject,
            "names": self.names,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "pin": self.pin,
        }


def inspect_der(der: bytes) -> CertificateInfo:
    """Read a DER certificate (as a TLS handshake delivers it)."""
    return _inspect(x509.load_der_x509_certificate(der))


def inspect_pem(pem: bytes) -> CertificateInfo:
    """Read a PEM certificate (as the App Server's certificate file holds it)."""
    return _inspect(x509.load_pem_x509_certificate(pem))


def _inspect(cert: x509.Certificate) -> CertificateInfo:
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        names=_names(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        pin=pin_of_certificate(cert),
    )


def _names(cert: x509.Certificate) -> list[str]:
    # RFC 6125 section 6.4.4: when the certificate carries subject alternative
    # names, the common name is not consulted; only without them is it used.
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return [
            str(attr.value)
            for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    dns_names = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
    ip_names = [str(n) for n in san.value.get_values_for_type(x509.IPAddress)]
    return dns_names + ip_names


def _as_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def name_matches(name: str, host: str) -> bool:
    """Tell whether the certificate name `name` covers `host` (RFC 6125).

    IP addresses match only the same address. A wildcard may only be the whole
    left-most label and stands for exactly one label (`*.example.com` covers
    `vault.example.com`, not `example.com` nor `a.b.example.com`).
    """
    host_ip, name_ip = _as_ip(host), _as_ip(name)
    if host_ip is not None or name_ip is not None:
        return host_ip is not None and host_ip == name_ip

    name = name.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if name == host:
        return True
    if not name.startswith("*."):
        return False
    first, _, rest = host.partition(".")
    return bool(first) and rest == name[2:] and "*" not in rest
