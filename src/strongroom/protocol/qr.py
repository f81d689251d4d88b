"""The pairing URI carried by the QR code.

    strongroom://pair?v=1&url=<App Server URL>&pin=<SPKI pin>&instance=<id>
        &user=<mobile username>&token=<pairing token>

All values are percent-encoded query parameters. `v` is the payload version.
"""

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

QR_SCHEME = "strongroom"
QR_VERSION = 1


class NotAPairingCode(ValueError):
    """The text is not a Strongroom pairing URI; the message says what is wrong."""


@dataclass(frozen=True)
class PairingPayload:
    """What a phone learns from the QR code."""

    url: str
    pin: str
    instance_id: str
    username: str
    token: str
    version: int = QR_VERSION

    def to_uri(self) -> str:
        """Render the `strongroom://pair?...` URI."""
        query = urlencode(
            {
                "v": self.version,
                "url": self.url,
                "pin": self.pin,
                "instance": self.instance_id,
                "user": self.username,
                "token": self.token,
            }
        )
        return f"{QR_SCHEME}://pair?{query}"

    @classmethod
    def from_uri(cls, text: str) -> "PairingPayload":
        """Parse a pairing URI, raising NotAPairingCode when it is not ours."""
        parts = urlsplit(text.strip())
        if parts.scheme != QR_SCHEME or parts.netloc != "pair":
            raise NotAPairingCode("this is not a Strongroom pairing code")
        query = parse_qs(parts.query, keep_blank_values=False)

        def one(name: str) -> str:
            values = query.get(name)
            if not values or not values[0].strip():
                raise NotAPairingCode(f"the pairing code has no {name!r}")
            return values[0].strip()

        try:
            version = int(one("v"))
        except ValueError:
            raise NotAPairingCode(
                "the pairing code's version is not a number"
            ) from None
        if version != QR_VERSION:
            raise NotAPairingCode(
                f"the pairing code is version {version}; this app reads {QR_VERSION}"
            )
        url = one("url")
        if not url.startswith("https://"):
            raise NotAPairingCode("the pairing code's server address is not https")
        return cls(
            url=url,
            pin=one("pin"),
            instance_id=one("instance"),
            username=one("user"),
            token=one("token"),
            version=version,
        )
