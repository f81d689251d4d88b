"""Request and reply bodies of the mobile API (version 1).

    POST /v1/pair     PairRequest   -> PairResponse
    POST /v1/sync     SyncRequest   -> SyncResponse
    POST /v1/logout   LogoutRequest -> LogoutResponse
    GET  /health      -> HealthResponse (200, or 503 when the database fails)

Bytes travel as standard base64 strings. Times are ISO 8601 with a zone.
Every model forbids unknown fields, so a typo is an error, not silence.
"""

import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

B64_MAX = 8192
MAX_AUDIT_EVENTS = 500


def _text_time(value: object) -> object:
    """Refuse numbers where a time is due: pydantic would read them as Unix
    seconds, a type the schema does not offer and no app sends."""
    if isinstance(value, str | datetime.datetime):
        return value
    raise ValueError("must be an ISO 8601 date and time with its zone, as text")


# A time in a request: text on the wire (a datetime when built in Python).
RequestTime = Annotated[datetime.datetime, BeforeValidator(_text_time)]
# The protocol version a client speaks. Strict: `true` or `1.0` is a client
# bug to report, not a version.
ProtocolVersion = Annotated[StrictInt, Field(ge=0, le=1000)]


class Strict(BaseModel):
    """Base: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class Policies(Strict):
    """What the organisation requires of the device; sent with every sync."""

    offline_ttl_days: int = Field(ge=1, le=30)
    failed_unlock_limit: int = Field(ge=1, le=50)
    biometric_allowed: bool
    master_password_reentry_hours: int = Field(ge=1, le=720)


class PairRequest(Strict):
    """Proves the QR token and the master password; registers the device."""

    protocol_version: ProtocolVersion
    instance_id: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1, max_length=201)
    pairing_token: str = Field(min_length=1, max_length=128)
    master_password: str = Field(min_length=1, max_length=1024)
    # Chosen by the app once per installation so failures count per device
    # even before the server has registered it.
    installation_id: str = Field(min_length=8, max_length=64)
    device_name: str = Field(default="", max_length=200)
    device_platform: str = Field(default="", max_length=50)
    box_public_key: str = Field(
        min_length=40, max_length=64, description="X25519 public key, base64"
    )


class PairResponse(Strict):
    """The device's identity and first credential."""

    device_id: str
    device_credential: str
    instance_id: str
    user_display_name: str
    server_time: datetime.datetime
    policies: Policies


class DeviceEventType(StrEnum):
    """What a device records while offline."""

    UNLOCK = "device.unlock"
    UNLOCK_FAILED = "device.unlock_failed"
    VIEW = "device.record_viewed"
    REVEAL = "device.record_revealed"
    COPY = "device.record_copied"
    OTP_VIEW = "device.otp_viewed"
    CACHE_ERASED = "device.cache_erased"


class DeviceEvent(Strict):
    """One queued audit event, with the device's own time."""

    event_id: str = Field(min_length=32, max_length=36, description="UUID")
    event_type: DeviceEventType
    occurred_at: RequestTime
    record_id: str | None = Field(default=None, max_length=36)
    list_id: str | None = Field(default=None, max_length=36)
    field: str | None = Field(default=None, max_length=50)


class SyncRequest(Strict):
    """One sync: the last committed cursor and the queued audit events."""

    protocol_version: ProtocolVersion
    device_id: str = Field(min_length=1, max_length=36)
    device_credential: str = Field(min_length=1, max_length=128)
    cursor: str | None = Field(default=None, max_length=256)
    events: list[DeviceEvent] = Field(default_factory=list, max_length=MAX_AUDIT_EVENTS)


class GenericFieldPayload(Strict):
    """A generic field; secret values travel only inside `RecordPayload.sealed`."""

    name: str
    value: str = ""
    secret: bool = False


class RecordPayload(Strict):
    """A new or changed record.

    `sealed` is a sealed box (to the device's public key) of the JSON object
    SealedSecrets, so a proxy that terminates TLS sees no secret.
    """

    id: str
    list_id: str
    version: int
    title: str
    username: str = ""
    url: str = ""
    description: str = ""
    domain: str = ""
    host_name: str = ""
    expires_at: datetime.date | None = None
    fields: list[GenericFieldPayload] = Field(default_factory=list)
    sealed: str = Field(description="base64 sealed box of SealedSecrets JSON")
    updated_at: datetime.datetime | None = None


class SealedSecrets(Strict):
    """The plaintext inside `RecordPayload.sealed`; names its record."""

    record_id: str
    password: str = ""
    notes: str = ""
    otp_secret: str = ""
    secret_fields: dict[str, str] = Field(
        default_factory=dict, description="generic field name -> value"
    )


class ListPayload(Strict):
    """A list the device may show, with its folder path (outermost first)."""

    id: str
    name: str
    folder_path: list[str]
    description: str = ""


class SyncResponse(Strict):
    """Changes since the request's cursor.

    With `full` set, the device must replace its whole cache with this reply
    (first sync, or the server could not use the cursor). Otherwise it applies
    `upserts` and `removed_record_ids`, replaces its list table with `lists`
    when that is not null, and stores `cursor` in the same transaction.
    """

    cursor: str
    full: bool
    device_credential: str
    upserts: list[RecordPayload]
    removed_record_ids: list[str]
    lists: list[ListPayload] | None
    stored_event_ids: list[str]
    policies: Policies
    server_time: datetime.datetime


class LogoutRequest(Strict):
    """The device revokes itself."""

    protocol_version: ProtocolVersion
    device_id: str = Field(min_length=1, max_length=36)
    device_credential: str = Field(min_length=1, max_length=128)


class LogoutResponse(Strict):
    """Acknowledges a logout."""

    revoked: bool


class HealthResponse(Strict):
    """`GET /health`: who answers, and whether it reaches its database."""

    status: str  # "ok" or "degraded"
    version: str
    instance_id: str | None
    database: str  # "ok" or the reason it failed
