"""Test twins for the device core: a fake App Server speaking the protocol, a clock.

The fake server keeps records in memory, seals their secrets to the device's
public key exactly as the protocol says, and answers every sync with a full
reply. It lets the core be tested without a database; the end-to-end tests
use the real App Server.
"""

import base64
import datetime
import uuid
from dataclasses import dataclass, field

from strongroom.client.transport import refusal_error
from strongroom.crypto import sealed_box
from strongroom.protocol.errors import ErrorCode
from strongroom.protocol.qr import PairingPayload
from strongroom.protocol.schemas import (
    GenericFieldPayload,
    ListPayload,
    LogoutRequest,
    LogoutResponse,
    PairRequest,
    PairResponse,
    Policies,
    RecordPayload,
    SealedSecrets,
    SyncRequest,
    SyncResponse,
)

MASTER = "correct horse battery staple 42"
PAYLOAD = PairingPayload(
    url="https://127.0.0.1:9",
    pin=base64.b64encode(b"p" * 32).decode(),
    instance_id="instance-1",
    username="alice",
    token="token-1",
)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


@dataclass
class FakeRecord:
    """A record as the fake server holds it."""

    id: str
    list_id: str
    title: str
    username: str = ""
    password: str = ""
    url: str = ""
    description: str = ""
    notes: str = ""
    otp_secret: str = ""
    fields: list[tuple[str, str, bool]] = field(default_factory=list)


@dataclass
class FakeServer:
    """Answers pair, sync and logout like the App Server, from memory."""

    master_password: str = MASTER
    policies: Policies = field(
        default_factory=lambda: Policies(
            offline_ttl_days=7,
            failed_unlock_limit=3,
            biometric_allowed=True,
            master_password_reentry_hours=72,
        )
    )
    lists: list[ListPayload] = field(default_factory=list)
    records: dict[str, FakeRecord] = field(default_factory=dict)
    events: dict[str, object] = field(default_factory=dict)
    box_public_key: bytes = b""
    credential: str = ""
    refuse_with: ErrorCode | None = None
    syncs: int = 0

    def add(self, title: str, list_name: str = "Bank", **values: object) -> FakeRecord:
        """Add a record (and its list) and return it."""
        plist = next((p for p in self.lists if p.name == list_name), None)
        if plist is None:
            plist = ListPayload(
                id=str(uuid.uuid4()), name=list_name, folder_path=["Finance"]
            )
            self.lists.append(plist)
        record = FakeRecord(id=str(uuid.uuid4()), list_id=plist.id, title=title)
        for key, value in values.items():
            setattr(record, key, value)
        self.records[record.id] = record
        return record

    def _refuse(self) -> None:
        if self.refuse_with is not None:
            raise refusal_error(self.refuse_with, "refused by the fake server")

    def pair(self, request: PairRequest) -> PairResponse:
        self._refuse()
        if request.master_password != self.master_password:
            raise refusal_error(ErrorCode.BAD_CREDENTIALS, "wrong password")
        self.box_public_key = base64.b64decode(request.box_public_key)
        self.credential = uuid.uuid4().hex
        return PairResponse(
            device_id=str(uuid.uuid4()),
            device_credential=self.credential,
            instance_id=request.instance_id,
            user_display_name="Alice",
            server_time=datetime.datetime.now(datetime.UTC),
            policies=self.policies,
        )

    def _payload(self, record: FakeRecord) -> RecordPayload:
        secrets = SealedSecrets(
            record_id=record.id,
            password=record.password,
            notes=record.notes,
            otp_secret=record.otp_secret,
            secret_fields={n: v for n, v, secret in record.fields if secret},
        )
        sealed = sealed_box.seal_to(
            self.box_public_key, secrets.model_dump_json().encode()
        )
        return RecordPayload(
            id=record.id,
            list_id=record.list_id,
            version=1,
            title=record.title,
            username=record.username,
            url=record.url,
            description=record.description,
            fields=[
                GenericFieldPayload(name=n, value="" if s else v, secret=s)
                for n, v, s in record.fields
            ],
            sealed=base64.b64encode(sealed).decode(),
        )

    def sync(self, request: SyncRequest) -> SyncResponse:
        self._refuse()
        if request.device_credential != self.credential:
            raise refusal_error(ErrorCode.CREDENTIAL_REPLAYED, "replayed")
        self.syncs += 1
        for event in request.events:
            self.events.setdefault(event.event_id, event)
        self.credential = uuid.uuid4().hex
        return SyncResponse(
            cursor=f"c{self.syncs}",
            full=True,
            device_credential=self.credential,
            upserts=[self._payload(r) for r in self.records.values()],
            removed_record_ids=[],
            lists=list(self.lists),
            stored_event_ids=[e.event_id for e in request.events],
            policies=self.policies,
            server_time=datetime.datetime.now(datetime.UTC),
        )

    def logout(self, request: LogoutRequest) -> LogoutResponse:
        self._refuse()
        return LogoutResponse(revoked=True)

    def close(self) -> None:
        pass
