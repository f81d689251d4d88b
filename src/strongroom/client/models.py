"""What the device core hands to its callers (CLI, phone app): plain, typed values."""

import datetime
from dataclasses import dataclass, field
from typing import Any

from strongroom.protocol.schemas import Policies

PATH_SEPARATOR = "/"


@dataclass(frozen=True)
class ListInfo:
    """A password list the device may show, with its folder path."""

    id: str
    name: str
    folder_path: tuple[str, ...]
    description: str = ""

    @property
    def path(self) -> str:
        """`Folder/Sub/List`."""
        return PATH_SEPARATOR.join((*self.folder_path, self.name))

    @property
    def folder(self) -> str:
        """`Folder/Sub` (empty at the top level)."""
        return PATH_SEPARATOR.join(self.folder_path)


@dataclass(frozen=True)
class FieldInfo:
    """A generic field; a secret one has an empty `value` until revealed."""

    name: str
    value: str
    secret: bool


@dataclass(frozen=True)
class RecordSummary:
    """Everything about a record except its secrets (what search and ls use)."""

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
    updated_at: datetime.datetime | None = None
    fields: tuple[FieldInfo, ...] = ()
    has_password: bool = False
    has_notes: bool = False
    has_otp: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly form (no secrets)."""
        return {
            "id": self.id,
            "list_id": self.list_id,
            "version": self.version,
            "title": self.title,
            "username": self.username,
            "url": self.url,
            "description": self.description,
            "domain": self.domain,
            "host_name": self.host_name,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "fields": [
                {"name": f.name, "value": f.value, "secret": f.secret}
                for f in self.fields
            ],
            "has_password": self.has_password,
            "has_notes": self.has_notes,
            "has_otp": self.has_otp,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RecordSummary":
        """Rebuild a summary written by `to_json`."""
        expires = data.get("expires_at")
        updated = data.get("updated_at")
        return cls(
            id=str(data["id"]),
            list_id=str(data["list_id"]),
            version=int(data["version"]),
            title=str(data["title"]),
            username=str(data.get("username", "")),
            url=str(data.get("url", "")),
            description=str(data.get("description", "")),
            domain=str(data.get("domain", "")),
            host_name=str(data.get("host_name", "")),
            expires_at=datetime.date.fromisoformat(expires) if expires else None,
            updated_at=datetime.datetime.fromisoformat(updated) if updated else None,
            fields=tuple(
                FieldInfo(str(f["name"]), str(f["value"]), bool(f["secret"]))
                for f in data.get("fields", [])
            ),
            has_password=bool(data.get("has_password")),
            has_notes=bool(data.get("has_notes")),
            has_otp=bool(data.get("has_otp")),
        )


@dataclass(frozen=True)
class RecordSecrets:
    """The secret fields of a record, in the clear (only after an audited reveal)."""

    password: str = ""
    notes: str = ""
    otp_secret: str = ""
    secret_fields: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "password": self.password,
            "notes": self.notes,
            "otp_secret": self.otp_secret,
            "secret_fields": dict(self.secret_fields),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RecordSecrets":
        """Rebuild secrets written by `to_json`."""
        return cls(
            password=str(data.get("password", "")),
            notes=str(data.get("notes", "")),
            otp_secret=str(data.get("otp_secret", "")),
            secret_fields={
                str(k): str(v) for k, v in dict(data.get("secret_fields", {})).items()
            },
        )


@dataclass(frozen=True)
class RecordView:
    """A record as shown: its summary, where it lives, and secrets when revealed."""

    summary: RecordSummary
    list_path: str
    secrets: RecordSecrets | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON form; secrets appear only when they were revealed."""
        body = self.summary.to_json()
        body["list_path"] = self.list_path
        if self.secrets is not None:
            body["secrets"] = self.secrets.to_json()
        return body


@dataclass(frozen=True)
class OtpCode:
    """A current time-based one-time password (RFC 6238)."""

    code: str
    seconds_left: int
    interval: int


@dataclass(frozen=True)
class SyncSummary:
    """What one sync changed."""

    full: bool
    upserted: int
    removed: int
    records: int
    events_uploaded: int
    server_time: datetime.datetime


@dataclass(frozen=True)
class DeviceStatus:
    """What `status` shows; readable without unlocking."""

    paired: bool
    profile: str
    server_url: str | None = None
    username: str | None = None
    device_id: str | None = None
    last_sync_at: datetime.datetime | None = None
    ttl_left: datetime.timedelta | None = None
    queued_events: int = 0
    biometric: bool = False
    policies: Policies | None = None
    erased_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "paired": self.paired,
            "profile": self.profile,
            "server_url": self.server_url,
            "username": self.username,
            "device_id": self.device_id,
            "last_sync_at": self.last_sync_at.isoformat()
            if self.last_sync_at
            else None,
            "ttl_left_seconds": int(self.ttl_left.total_seconds())
            if self.ttl_left is not None
            else None,
            "queued_events": self.queued_events,
            "biometric": self.biometric,
            "policies": self.policies.model_dump() if self.policies else None,
            "erased_reason": self.erased_reason,
        }
