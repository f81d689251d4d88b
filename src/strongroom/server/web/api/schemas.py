"""Request and response bodies of the REST API.

Requests forbid unknown fields and carry the same limits the services
enforce, so a bad value is refused with its field named before any work is
done. Text never contains NUL or unpaired surrogates: PostgreSQL cannot store
the first and no encoder can write the second.
"""

import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from strongroom.server.accounts.api_key_models import KEY_NAME_MAX
from strongroom.server.vault.models import (
    DESCRIPTION_MAX,
    FOLDER_NAME_MAX,
    TITLE_MAX,
    URL_MAX,
    USERNAME_MAX,
)
from strongroom.server.web import otp

# Limits the services check too (vault.validate_record, accounts).
PATH_MAX = 2000
NOTES_MAX = 65_536
PASSWORD_MAX = 4096
OTP_MAX = 1024
DOMAIN_MAX = 255
HOST_MAX = 255
FIELD_NAME_MAX = 200
FIELD_VALUE_MAX = 65_536
FIELDS_MAX = 100
USER_NAME_MAX = 201  # DOMAIN\name: 100 + 1 + 100
DISPLAY_NAME_MAX = 200
EMAIL_MAX = 254
GROUP_NAME_MAX = 200
BULK_LISTS_MAX = 10_000
NEW_PASSWORD_MAX = 1024
ID_PATTERN = r"^[0-9A-Za-z-]{1,36}$"


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text") from None
    return value


def _aware_in_range(value: datetime.datetime) -> datetime.datetime:
    # An offset can push a date near year 1 or 9999 out of range once
    # converted to UTC; refuse it here rather than fail in the database.
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError:
        raise ValueError("is out of the supported date range") from None


Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Instant = Annotated[AwareDatetime, AfterValidator(_aware_in_range)]
LevelName = Literal["view", "modify", "admin"]
Feature = Literal["mobile"]


_CLEAN = AfterValidator(_clean_text)
FolderPath = Annotated[
    str, StringConstraints(min_length=1, max_length=PATH_MAX), _CLEAN
]
FolderName = Annotated[
    str, StringConstraints(min_length=1, max_length=FOLDER_NAME_MAX), _CLEAN
]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX), _CLEAN]
Title = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX), _CLEAN]
Username = Annotated[str, StringConstraints(max_length=USERNAME_MAX), _CLEAN]
Password = Annotated[str, StringConstraints(max_length=PASSWORD_MAX), _CLEAN]
Url = Annotated[str, StringConstraints(max_length=URL_MAX), _CLEAN]
Notes = Annotated[str, StringConstraints(max_length=NOTES_MAX), _CLEAN]
DomainText = Annotated[str, StringConstraints(max_length=DOMAIN_MAX), _CLEAN]
HostName = Annotated[str, StringConstraints(max_length=HOST_MAX), _CLEAN]


def _usable_otp(value: str) -> str:
    # The same check as the web form (web.otp.check), so a secret the API
    # stores always yields codes on the record page and the phone.
    if value.strip():
        try:
            otp.check(value)
        except ValueError:
            raise ValueError(
                "the OTP secret must be base32 (letters A-Z and digits 2-7) or an "
                "otpauth:// link"
            ) from None
    return value


OtpSecret = Annotated[
    str, StringConstraints(max_length=OTP_MAX), _CLEAN, AfterValidator(_usable_otp)
]
FieldName = Annotated[
    str, StringConstraints(min_length=1, max_length=FIELD_NAME_MAX), _CLEAN
]
FieldValue = Annotated[str, StringConstraints(max_length=FIELD_VALUE_MAX), _CLEAN]
UserName = Annotated[
    str, StringConstraints(min_length=1, max_length=USER_NAME_MAX), _CLEAN
]
DisplayName = Annotated[str, StringConstraints(max_length=DISPLAY_NAME_MAX), _CLEAN]
Email = Annotated[str, StringConstraints(max_length=EMAIL_MAX), _CLEAN]
GroupName = Annotated[
    str, StringConstraints(min_length=1, max_length=GROUP_NAME_MAX), _CLEAN
]
KeyName = Annotated[
    str, StringConstraints(min_length=1, max_length=KEY_NAME_MAX), _CLEAN
]
NewPassword = Annotated[
    str, StringConstraints(min_length=1, max_length=NEW_PASSWORD_MAX), _CLEAN
]


class Request(BaseModel):
    """Base of request bodies: unknown fields are an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(Response, Generic[T]):
    """One page of a collection: `items`, how many exist, and the window."""

    items: list[T]
    total: int
    limit: int
    offset: int


# --- folders ------------------------------------------------------------------


class FolderOut(Response):
    """A folder and its full path."""

    id: str
    name: str
    parent_id: str | None
    path: str


class FolderCreate(Request):
    """A new folder at `path` (e.g. `Finance/Banking`)."""

    path: FolderPath
    create_parents: bool = False


class FolderRename(Request):
    """A folder's new name (one path segment)."""

    name: FolderName


# --- lists --------------------------------------------------------------------


class ListOut(Response):
    """A password list, where it lives and how many records it holds."""

    id: str
    name: str
    path: str
    folder_path: str
    description: str
    records: int


class ListCreate(Request):
    """A new list at `path` (`Folder/Sub/List`)."""

    path: FolderPath
    description: Description = ""
    create_folders: bool = False


class Deleted(Response):
    """What a delete removed."""

    id: str
    deleted: bool = True
    records: int | None = None


# --- records ------------------------------------------------------------------


class FieldIn(Request):
    """A generic field of a record; `secret` ones are stored encrypted."""

    name: FieldName
    value: FieldValue = ""
    secret: bool = False


class RecordIn(Request):
    """Every field of a record. Secret fields: password, notes, otp_secret."""

    title: Title
    username: Username = ""
    password: Password = ""
    url: Url = ""
    description: Description = ""
    notes: Notes = ""
    domain: DomainText = ""
    host_name: HostName = ""
    otp_secret: OtpSecret = ""
    expires_at: datetime.date | None = None
    fields: list[FieldIn] = Field(default_factory=list, max_length=FIELDS_MAX)


class RecordPatch(Request):
    """The fields to change; absent ones keep their value."""

    title: Title | None = None
    username: Username | None = None
    password: Password | None = None
    url: Url | None = None
    description: Description | None = None
    notes: Notes | None = None
    domain: DomainText | None = None
    host_name: HostName | None = None
    otp_secret: OtpSecret | None = None
    expires_at: datetime.date | None = None
    fields: list[FieldIn] | None = Field(default=None, max_length=FIELDS_MAX)


class FieldOut(Response):
    """A generic field; a secret one's value is null unless revealed."""

    name: str
    value: str | None
    secret: bool


class RecordSummary(Response):
    """A record without its secrets, for listings."""

    id: str
    list_id: str
    title: str
    username: str
    url: str
    description: str
    domain: str
    host_name: str
    expires_at: datetime.date | None
    has_password: bool
    has_notes: bool
    has_otp: bool
    version: int
    updated_at: datetime.datetime | None


class RecordOut(RecordSummary):
    """A record; secret fields are null unless read with `?reveal=true`."""

    list_path: str
    revealed: bool
    password: str | None
    notes: str | None
    otp_secret: str | None
    fields: list[FieldOut]


# --- permissions --------------------------------------------------------------


class PermissionOut(Response):
    """A row of a list's permissions grid."""

    id: str
    list_id: str
    grantee_kind: Literal["user", "group"]
    grantee_id: str
    grantee_name: str
    level: LevelName
    mobile_access: bool


class PermissionCreate(Request):
    """Grant a level to exactly one of a user or a group.

    Without `mobile_access`, a new permission takes the system setting
    "enable Mobile Access by default on new permissions".
    """

    user_id: Id | None = None
    group_id: Id | None = None
    level: LevelName
    mobile_access: bool | None = None


class PermissionUpdate(Request):
    """Change a permission's level and/or its Mobile Access flag."""

    level: LevelName | None = None
    mobile_access: bool | None = None


class MobileAccessBulk(Request):
    """Set Mobile Access on every permission of `list_ids` (null: all lists)."""

    value: bool
    list_ids: list[Id] | None = Field(default=None, max_length=BULK_LISTS_MAX)
    dry_run: bool = False


class MobileAccessBulkOut(Response):
    """How many permissions changed (or would change, on a dry run)."""

    changed: int
    dry_run: bool


# --- users and groups ------------------------------------------------------------


class UserOut(Response):
    """A user as administrators see them."""

    id: str
    name: str
    login_name: str
    domain: str
    display_name: str
    email: str
    is_admin: bool
    active: bool
    offline_ttl_days: int | None
    created_at: datetime.datetime


class UserCreate(Request):
    """A new local user (`name` may be `DOMAIN\\name` for directory accounts)."""

    name: UserName
    password: NewPassword
    display_name: DisplayName = ""
    email: Email = ""
    is_admin: bool = False


class UserUpdate(Request):
    """Enable or disable a user and/or set a new web password."""

    active: bool | None = None
    password: NewPassword | None = None


class UserRef(Response):
    """A user named in another object."""

    id: str
    name: str


class GroupOut(Response):
    """A security group and its member count."""

    id: str
    name: str
    description: str
    member_count: int


class GroupDetail(GroupOut):
    """A security group with its members."""

    members: list[UserRef]


class GroupCreate(Request):
    """A new security group."""

    name: GroupName
    description: Description = ""


# --- feature access -----------------------------------------------------------


class FeatureGrantOut(Response):
    """A feature granted to one user or one group."""

    id: str
    feature: Feature
    grantee_kind: Literal["user", "group"]
    grantee_id: str
    grantee_name: str


class FeatureGrantCreate(Request):
    """Grant the feature to exactly one of a user or a group."""

    user_id: Id | None = None
    group_id: Id | None = None


# --- audit and the caller -------------------------------------------------------


class AuditEventOut(Response):
    """One audit event."""

    seq: int
    id: str
    occurred_at: datetime.datetime
    received_at: datetime.datetime
    event_type: str
    outcome: str
    actor_user_id: str | None
    actor_name: str
    platform: str
    device_id: str | None
    source_ip: str | None
    target_type: str | None
    target_id: str | None
    target_name: str | None
    list_id: str | None
    record_id: str | None
    details: dict[str, Any]


class AuditChainOut(Response):
    """The result of verifying the audit log's hash chain."""

    ok: bool
    checked: int
    broken_seq: int | None
    reason: str | None


class MeOut(Response):
    """The key making this call and whom it acts as."""

    key_id: str
    key_name: str
    user_id: str
    user_name: str
    system_wide: bool
    is_admin: bool
    list_ids: list[str]
