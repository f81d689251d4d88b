"""No secret is readable at rest, and sealed values cannot be moved between rows."""

import base64
from pathlib import Path

import pytest
import sqlalchemy as sa

from strongroom.crypto.errors import DecryptionError
from strongroom.server.core.db import Database
from strongroom.server.core.instance import Instance, operator
from strongroom.server.settings import service as system_settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Record
from tests.conftest import ADMIN_PASSWORD
from tests.server.support import row_counts

PASSWORD = "Sup3r-Secret-Passw0rd-5150"
NOTES = "Confidential notes: the vault combination is 31-41-59"
OTP = "JBSWY3DPEHPK3PXPSECRETOTP"
FIELD = "Secret-Field-Value-8675309"
VISIBLE_TITLE = "At-Rest-Title-Visible-4242"


def _store_known_secrets(instance: Instance) -> str:
    """Store one record holding every kind of secret; return the pairing secret."""
    actor = operator()
    with instance.db.session() as session:
        plist = vault.create_list(session, actor, "Secrets/Kept", create_folders=True)
        vault.create_record(
            session,
            actor,
            instance.cipher,
            plist,
            vault.RecordInput(
                title=VISIBLE_TITLE,
                username="someone",
                password=PASSWORD,
                notes=NOTES,
                otp_secret=OTP,
                fields=[
                    vault.GenericField("Plain", "visible"),
                    vault.GenericField("Vault PIN", FIELD, secret=True),
                ],
            ),
        )
        pairing_secret, _generation = system_settings.pairing_secret(
            session, instance.cipher
        )
    return pairing_secret


def _forms(secret: str) -> list[bytes]:
    """The ways a leaked secret could show: raw UTF-8, hex (PostgreSQL bytea as
    text), and base64."""
    raw = secret.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw).rstrip(b"=")]


def _raw_database(instance: Instance) -> bytes:
    """Every byte the database holds at rest: the SQLite file and its WAL, or
    every PostgreSQL row of every table rendered as text."""
    url = instance.db.url
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    db = Database(url)
    chunks: list[str] = []
    with db.engine.connect() as conn:
        tables = conn.execute(
            sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ).scalars()
        for table in list(tables):
            rows = conn.execute(sa.text(f'SELECT t::text FROM "{table}" t')).scalars()
            chunks.extend(rows)
    db.dispose()
    return "\n".join(chunks).encode()


def test_no_secret_is_stored_in_the_clear(instance: Instance) -> None:
    """A password, notes, an OTP secret, a secret field, the pairing secret and
    the admin's web password appear nowhere in the raw database."""
    pairing_secret = _store_known_secrets(instance)
    raw = _raw_database(instance)

    # The scan can see stored text: the title is not secret and is found.
    assert VISIBLE_TITLE.encode() in raw
    for secret in (PASSWORD, NOTES, OTP, FIELD, pairing_secret, ADMIN_PASSWORD):
        for form in _forms(secret):
            assert form not in raw, f"{secret[:6]}... found at rest as {form[:12]!r}"


def test_secrets_still_read_back_through_the_services(instance: Instance) -> None:
    """The same record opens to the values stored, so the test above is not
    passing because nothing was stored."""
    _store_known_secrets(instance)
    with instance.db.session() as session:
        record = session.scalars(sa.select(Record)).one()
        view = vault.open_record(session, instance.cipher, record)
    assert (view.password, view.notes, view.otp_secret) == (PASSWORD, NOTES, OTP)
    assert [f.value for f in view.fields] == ["visible", FIELD]


def _two_records(instance: Instance) -> tuple[str, str]:
    actor = operator()
    with instance.db.session() as session:
        plist = vault.create_list(session, actor, "Swap")
        ids = []
        for title, password in (("one", "password-one"), ("two", "password-two")):
            record = vault.create_record(
                session,
                actor,
                instance.cipher,
                plist,
                vault.RecordInput(
                    title=title, password=password, notes=f"{title} notes"
                ),
            )
            ids.append(record.id)
    return ids[0], ids[1]


@pytest.mark.parametrize(
    ("first_column", "second_column", "same_record"),
    [
        ("password_sealed", "password_sealed", False),
        ("password_sealed", "notes_sealed", True),
    ],
)
def test_swapped_ciphertexts_refuse_to_decrypt(
    instance: Instance, first_column: str, second_column: str, same_record: bool
) -> None:
    """Swapping sealed values between two records (or two fields of one) by hand
    makes reading either raise DecryptionError, never the other's plaintext."""
    one, two = _two_records(instance)
    target = one if same_record else two
    db = Database(instance.db.url)
    with db.engine.begin() as conn:
        first = conn.execute(
            sa.text(f"SELECT {first_column} FROM records WHERE id = :id"), {"id": one}
        ).scalar_one()
        second = conn.execute(
            sa.text(f"SELECT {second_column} FROM records WHERE id = :id"),
            {"id": target},
        ).scalar_one()
        conn.execute(
            sa.text(f"UPDATE records SET {first_column} = :v WHERE id = :id"),
            {"v": second, "id": one},
        )
        conn.execute(
            sa.text(f"UPDATE records SET {second_column} = :v WHERE id = :id"),
            {"v": first, "id": target},
        )
    db.dispose()

    before = row_counts(instance.db.url)
    with instance.db.session() as session:
        for record_id in {one, target}:
            record = session.get(Record, record_id)
            assert record is not None
            with pytest.raises(DecryptionError):
                vault.open_record(session, instance.cipher, record)
            with pytest.raises(DecryptionError):
                vault.read_record(
                    session, operator(), instance.cipher, record, reveal=True
                )
        session.rollback()
    assert row_counts(instance.db.url) == before
