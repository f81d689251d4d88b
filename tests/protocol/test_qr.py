"""The pairing URI round-trips and refuses what is not ours."""

import pytest

from strongroom.protocol.qr import NotAPairingCode, PairingPayload

PAYLOAD = PairingPayload(
    url="https://vault.example.com:9443",
    pin="Thoeak62U03DPTtr+Icv348lskOrDxe63ARifKlhTwY=",
    instance_id="c097a21e-0cb3-4e22-bce1-360385ee43ab",
    username="CORP\\alice",
    token="abcdefghijklmnopqrstuv",
)


def test_round_trip_keeps_every_field() -> None:
    """Rendering then parsing gives the same payload, backslash and + included."""
    uri = PAYLOAD.to_uri()
    assert uri.startswith("strongroom://pair?v=1&")
    assert PairingPayload.from_uri(uri) == PAYLOAD


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("https://example.com", "not a Strongroom pairing code"),
        ("strongroom://other?v=1", "not a Strongroom pairing code"),
        ("strongroom://pair?v=1&url=https://x", "no 'pin'"),
        (
            "strongroom://pair?v=9&url=https://x&pin=p&instance=i&user=u&token=t",
            "version 9",
        ),
        (
            "strongroom://pair?v=x&url=https://x&pin=p&instance=i&user=u&token=t",
            "not a number",
        ),
        (
            "strongroom://pair?v=1&url=http://x&pin=p&instance=i&user=u&token=t",
            "not https",
        ),
    ],
)
def test_refuses_foreign_codes(text: str, message: str) -> None:
    """A code that is not a valid v1 pairing URI is refused with a clear reason."""
    with pytest.raises(NotAPairingCode, match=message):
        PairingPayload.from_uri(text)
