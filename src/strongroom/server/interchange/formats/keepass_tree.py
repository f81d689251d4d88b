"""How a KeePass group tree becomes Strongroom folders and lists.

Both KeePass readers (KDBX through pykeepass, and the XML export) first turn
the database into the plain `KeePassGroup` / `KeePassEntry` tree below, then
call `tree_to_bundle`, so the rule is the same for both:

* Every group that directly holds entries becomes a list named after the
  group; its ancestor groups below the root group become its folder path.
* A group holding only subgroups is only a folder (it appears in the folder
  path of the lists below it); an empty group is left out.
* Entries directly in the root group go to a top-level list named after the
  database (its name in the database settings, else the root group's name).
* The recycle bin (the group the database names as such) and everything
  below it are left out, with a warning counting the entries.
* A group without a name is called "Untitled group".

Fields: title, username, password, URL and notes map across; the OTP secret
comes from ``otp`` (an otpauth:// URI), else KeePassXC's older ``TOTP Seed``,
else KeePass's ``TimeOtp-Secret-Base32``; every other string becomes a
generic field, secret when KeePass protects it. Tags become the field "Tags".
An entry's expiry date is kept when "expires" is ticked.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedField,
    ImportedRecord,
    ListCollector,
)

logger = logging.getLogger(__name__)

# Where KeePass and KeePassXC keep a TOTP secret, best first.
OTP_KEYS = ("otp", "TOTP Seed", "TimeOtp-Secret-Base32")

UNTITLED_GROUP = "Untitled group"

UNRESOLVED_REFERENCE = (
    "a field reference could not be resolved (no such entry, or a loop); "
    "it was kept as written"
)


@dataclass
class KeePassString:
    """A custom string of an entry; `protected` marks it secret."""

    key: str
    value: str
    protected: bool = False


@dataclass
class KeePassEntry:
    """The fields of one entry that Strongroom keeps, references resolved."""

    title: str
    username: str = ""
    password: str = ""
    url: str = ""
    notes: str = ""
    otp: str = ""
    strings: list[KeePassString] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    expires_at: datetime.date | None = None


@dataclass
class KeePassGroup:
    """A group: its name, id (for the recycle bin test) and children."""

    name: str
    uuid: str = ""
    entries: list[KeePassEntry] = field(default_factory=list)
    groups: list[KeePassGroup] = field(default_factory=list)


def tree_to_bundle(
    root: KeePassGroup,
    *,
    source_format: str,
    root_list_name: str,
    recycle_bin_uuid: str,
    warnings: list[str],
) -> ImportBundle:
    """Apply the module's group rule to a whole database (titles not yet filled)."""
    collector = ListCollector()
    _add_entries(collector, (), root_list_name, root.entries)
    for group in root.groups:
        _walk(collector, group, (), recycle_bin_uuid, warnings)
    return ImportBundle(
        source_format=source_format, lists=collector.lists(), warnings=warnings
    )


def _walk(
    collector: ListCollector,
    group: KeePassGroup,
    above: tuple[str, ...],
    recycle_bin_uuid: str,
    warnings: list[str],
) -> None:
    name = group.name.strip() or UNTITLED_GROUP
    if recycle_bin_uuid and group.uuid == recycle_bin_uuid:
        # Deleted entries were thrown away on purpose; importing them would
        # bring back credentials someone meant to retire.
        skipped = _count_entries(group)
        warnings.append(f"left out the recycle bin {name!r} and its {skipped} entries")
        logger.info(
            "interchange.keepass.recycle_bin_skipped", extra={"entry_count": skipped}
        )
        return
    _add_entries(collector, above, name, group.entries)
    for child in group.groups:
        _walk(collector, child, (*above, name), recycle_bin_uuid, warnings)


def _add_entries(
    collector: ListCollector,
    folder_path: tuple[str, ...],
    name: str,
    entries: list[KeePassEntry],
) -> None:
    place = "/".join((*folder_path, name))
    for entry in entries:
        ref = f"entry '{place}/{entry.title.strip() or '(untitled)'}'"
        collector.add(folder_path, name, entry_to_record(entry, ref))


def _count_entries(group: KeePassGroup) -> int:
    return len(group.entries) + sum(_count_entries(child) for child in group.groups)


def entry_to_record(entry: KeePassEntry, ref: str) -> ImportedRecord:
    """Map one entry to a record (module docstring); `ref` names it in errors."""
    otp, otp_key = _pick_otp(entry)
    fields = [
        ImportedField(string.key, string.value, string.protected)
        for string in entry.strings
        if string.key != otp_key
    ]
    if entry.tags:
        fields.append(ImportedField("Tags", ", ".join(entry.tags)))
    return ImportedRecord(
        title=entry.title.strip(),
        username=entry.username,
        password=entry.password,
        url=entry.url,
        notes=entry.notes,
        otp_secret=otp,
        expires_at=entry.expires_at,
        fields=fields,
        source_ref=ref,
    )


def _pick_otp(entry: KeePassEntry) -> tuple[str, str | None]:
    """Return the OTP secret and the custom string it came from, if any."""
    if entry.otp.strip():
        return entry.otp, None
    values = {string.key: string.value for string in entry.strings}
    for key in OTP_KEYS[1:]:
        if values.get(key, "").strip():
            return values[key], key
    return "", None
