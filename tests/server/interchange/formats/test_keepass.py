"""Tests for the KDBX reader: real databases and one built at test time."""

import datetime
from pathlib import Path

import pykeepass
import pytest
from pykeepass import PyKeePass

from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedField,
    ImportedRecord,
)
from strongroom.server.interchange.errors import (
    IntegrityError,
    InterchangeError,
    MalformedFile,
    PasswordRequired,
    UnsupportedFormat,
    WrongPassword,
)
from strongroom.server.interchange.readers import read_file

BLANK_DATABASE = Path(pykeepass.__file__).parent / "blank_database.kdbx"


def by_title(bundle: ImportBundle) -> dict[str, ImportedRecord]:
    return {record.title: record for record in bundle.records()}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KDBX 4 database exercising every group and field rule."""
    path = tmp_path_factory.mktemp("kdbx") / "synthetic.kdbx"
    kp = PyKeePass(str(BLANK_DATABASE), password="password")
    # Cheap Argon2 settings keep every later open of this file fast.
    kdf = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    kdf["I"].value, kdf["M"].value, kdf["P"].value = 2, 1024 * 1024, 1
    kp.password = "pw"
    kp.database_name = "Synthetic"
    kp.add_entry(kp.root_group, "Root entry", "r", "rp")
    team = kp.add_group(kp.root_group, "Team")
    mail = kp.add_entry(
        team,
        "Mail",
        "mailer",
        "m-pass",
        url="https://m.example",
        tags=["a", "b"],
        otp="otpauth://totp/x?secret=ABCD",
    )
    mail.expires = True
    mail.expiry_time = datetime.datetime(2031, 5, 6, 12, tzinfo=datetime.UTC)
    mail.set_custom_property("API key", "k-123", protect=True)
    mail.set_custom_property("Colour", "blue")
    kp.add_entry(team, "Copy", "{REF:U@T:Mail}", "x{REF:P@T:Mail}y")
    kp.add_entry(team, "Broken", "u", "{REF:P@T:Nowhere}")
    kp.add_entry(
        team, "", "jdoe", "p", url="https://x.example/login", force_creation=True
    )
    leaf = kp.add_group(kp.add_group(kp.root_group, "Only folders"), "Leaf")
    kp.add_entry(leaf, "Deep", "d", "dp")
    kp.add_group(kp.root_group, "Empty")
    for number in (1, 2):
        kp.add_entry(kp.add_group(kp.root_group, "Dup"), f"Dup {number}", "u", "p")
    kp.trash_entry(kp.add_entry(team, "Deleted", "old", "gone"))
    kp.save(str(path))
    return path


@pytest.fixture(scope="module")
def synthetic_bundle(synthetic: Path) -> ImportBundle:
    """The synthetic database, read once for the tests that only inspect it."""
    return read_file(synthetic, password="pw")


def test_groups_become_folders_and_lists(synthetic_bundle: ImportBundle) -> None:
    """Groups with entries are lists; folder-only and empty groups are not."""
    bundle = synthetic_bundle
    assert bundle.source_format == "kdbx"
    assert [(lst.folder_path, lst.name, len(lst.records)) for lst in bundle.lists] == [
        ((), "Synthetic", 1),
        ((), "Team", 4),
        (("Only folders",), "Leaf", 1),
        ((), "Dup", 2),
    ]


def test_recycle_bin_is_left_out(synthetic_bundle: ImportBundle) -> None:
    """The trashed entry is not imported and a warning says so."""
    bundle = synthetic_bundle
    assert "Deleted" not in by_title(bundle)
    assert "left out the recycle bin 'Recycle Bin' and its 1 entries" in bundle.warnings


def test_fields_otp_tags_expiry_and_protection(synthetic_bundle: ImportBundle) -> None:
    """OTP, tags, expiry and protected custom strings map onto the record."""
    mail = by_title(synthetic_bundle)["Mail"]
    assert (mail.username, mail.password, mail.url) == (
        "mailer",
        "m-pass",
        "https://m.example",
    )
    assert mail.otp_secret == "otpauth://totp/x?secret=ABCD"
    assert mail.expires_at == datetime.date(2031, 5, 6)
    assert mail.fields == [
        ImportedField("API key", "k-123", True),
        ImportedField("Colour", "blue", False),
        ImportedField("Tags", "a, b"),
    ]


def test_field_references_are_resolved(synthetic_bundle: ImportBundle) -> None:
    """{REF:...} values are replaced; a dangling one is kept with a warning."""
    bundle = synthetic_bundle
    records = by_title(bundle)
    assert (records["Copy"].username, records["Copy"].password) == (
        "mailer",
        "xm-passy",
    )
    assert records["Broken"].password == "{REF:P@T:Nowhere}"
    assert any("field reference could not be resolved" in w for w in bundle.warnings)


def test_untitled_entry_gets_fallback(synthetic_bundle: ImportBundle) -> None:
    """An entry without a title is named after URL host and username."""
    bundle = synthetic_bundle
    assert "x.example (jdoe)" in by_title(bundle)
    assert any("imported as 'x.example (jdoe)'" in w for w in bundle.warnings)


@pytest.mark.parametrize(
    ("password", "error"),
    [(None, PasswordRequired), ("wrong", WrongPassword)],
)
def test_missing_or_wrong_password(
    synthetic: Path, password: str | None, error: type[InterchangeError]
) -> None:
    """No credentials asks for them; a wrong password says so."""
    with pytest.raises(error):
        read_file(synthetic, password=password)


@pytest.mark.parametrize("keep", [12, 100, 400, -10])
def test_truncated_database_is_malformed(
    synthetic: Path, tmp_path: Path, keep: int
) -> None:
    """A cut-off KDBX file gives one MalformedFile, not a library error."""
    truncated = tmp_path / "cut.kdbx"
    truncated.write_bytes(synthetic.read_bytes()[:keep])
    with pytest.raises(MalformedFile, match="truncated or damaged"):
        read_file(truncated, password="pw")


REALDATA_DATABASES = [
    ("keepassxc/NewDatabase.kdbx", "a", None, ["Sample Entry", "Subgroup Entry"]),
    ("keepassxc/NewDatabase2.kdbx", "a", None, ["Sample Entry", "Unicode"]),
    (
        "keepassxc/NewDatabaseMulti.kdbx",
        "a",
        None,
        ["Multi Entry 1", "Multi Entry 2", "Single Entry", "Subgroup Entry"],
    ),
    ("keepassxc/Format300.kdbx", "a", None, ["Sample Entry"]),
    ("keepassxc/Format400.kdbx", "t", None, ["Format400"]),
    ("keepassxc/NonAscii.kdbx", "Δöض", None, ["秘密"]),
    ("keepassxc/Compressed.kdbx", "", None, ["Sample Entry"]),
    ("keepassxc/ProtectedStrings.kdbx", "masterpw", None, ["Sample Entry"]),
    (
        "keepassxc/KeyFileProtected.kdbx",
        "a",
        "keepassxc/KeyFileProtected.key",
        ["entry1", "entry2"],
    ),
    (
        "keepassxc/KeyFileProtectedNoPassword.kdbx",
        None,
        "keepassxc/KeyFileProtectedNoPassword.key",
        ["entry1", "entry2"],
    ),
    ("keepassxc/FileKeyXmlV2.kdbx", None, "keepassxc/FileKeyXmlV2.keyx", []),
    (
        "keepassxc/RecycleBinDisabled.kdbx",
        "123",
        None,
        ["Linux", "Personal Gmail", "SMB", "Wi-fi", "Windows"],
    ),
    (
        "pykeepass/test4_aes.kdbx",
        "password",
        "pykeepass/test4.key",
        ["Sample Entry", "Sample Entry #2"],
    ),
    (
        "pykeepass/test4_aeskdf.kdbx",
        "password",
        "pykeepass/test4.key",
        ["Sample Entry", "Sample Entry #2"],
    ),
    (
        "pykeepass/test4_chacha20.kdbx",
        "password",
        "pykeepass/test4.key",
        ["Sample Entry", "Sample Entry #2"],
    ),
    (
        "pykeepass/test4_twofish.kdbx",
        "password",
        "pykeepass/test4.key",
        ["Sample Entry", "Sample Entry #2"],
    ),
    ("pykeepass/test4_aes_uncompressed.kdbx", "password", None, ["foo"]),
    (
        "pykeepass/test4_hex.kdbx",
        "password",
        "pykeepass/test4_hex.key",
        ["Sample Entry", "Sample Entry #2", "Sample Unic®de Entry"],
    ),
    (
        "pykeepass/test4_keyx.kdbx",
        "password",
        "pykeepass/test4_keyx.keyx",
        ["Sample Entry"],
    ),
    ("pykeepass/test4_blankpass.kdbx", "", "pykeepass/test4.key", []),
    ("pykeepass/test4_argon2id.kdbx", "password", None, []),
    ("pykeepass/extra_content.kdbx", "password", None, []),
    ("pykeepass/blank_database.kdbx", "password", None, []),
]


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "password", "key", "titles"), REALDATA_DATABASES)
def test_real_databases_open(
    realdata: Path, name: str, password: str | None, key: str | None, titles: list[str]
) -> None:
    """Each real KDBX 3/4 database opens with its credentials and lists its entries."""
    key_file = realdata / key if key else None
    bundle = read_file(realdata / name, password=password, key_file=key_file)
    assert sorted(record.title for record in bundle.records()) == titles


@pytest.mark.realdata
def test_new_database_layout_and_totp(realdata: Path) -> None:
    """NewDatabase: root list, Homebanking/Subgroup, password and TOTP seed."""
    bundle = read_file(realdata / "keepassxc/NewDatabase.kdbx", password="a")
    assert [(lst.folder_path, lst.name) for lst in bundle.lists] == [
        ((), "NewDatabase"),
        (("Homebanking",), "Subgroup"),
    ]
    sample = by_title(bundle)["Sample Entry"]
    assert sample.password == "Password"
    assert sample.otp_secret == "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
    assert ImportedField("TOTP Settings", "30;6") in sample.fields
    # KeePassXC allows attribute names differing only in case; both survive.
    assert {f.name for f in sample.fields} >= {"TestAttribute1", "testattribute1"}


@pytest.mark.realdata
def test_unicode_username(realdata: Path) -> None:
    """NewDatabase2: General/Unicode keeps its non-ASCII username."""
    bundle = read_file(realdata / "keepassxc/NewDatabase2.kdbx", password="a")
    general = next(lst for lst in bundle.lists if lst.name == "General")
    assert general.records[0].username == "¯\\_(ツ)_/¯"


@pytest.mark.realdata
def test_non_ascii_password(realdata: Path) -> None:
    """NonAscii: a non-ASCII master password opens an emoji password."""
    bundle = read_file(realdata / "keepassxc/NonAscii.kdbx", password="Δöض")
    assert by_title(bundle)["秘密"].password == "🚗🐎🔋📎"
    assert bundle.lists[0].name == "NonAsciiTest"


@pytest.mark.realdata
def test_format400_attributes(realdata: Path) -> None:
    """Format400: the custom attribute arrives as a generic field."""
    record = by_title(read_file(realdata / "keepassxc/Format400.kdbx", password="t"))[
        "Format400"
    ]
    assert (record.username, record.password) == ("Format400", "Format400")
    assert [(f.name, f.value) for f in record.fields] == [("Format400", "Format400")]


@pytest.mark.realdata
def test_protected_strings_are_secret(realdata: Path) -> None:
    """ProtectedStrings: the protected custom string is secret, the other not."""
    record = next(
        read_file(
            realdata / "keepassxc/ProtectedStrings.kdbx", password="masterpw"
        ).records()
    )
    assert record.username == "Protected User Name"
    assert record.password == "ProtectedPassword"
    assert record.fields == [
        ImportedField("TestProtected", "ABC", True),
        ImportedField("TestUnprotected", "DEF", False),
    ]


@pytest.mark.realdata
def test_recycle_bin_with_data_is_excluded(realdata: Path) -> None:
    """RecycleBinWithData: 11 entries, the 6 in the bin (nested too) left out."""
    bundle = read_file(realdata / "keepassxc/RecycleBinWithData.kdbx", password="123")
    assert bundle.record_count() == 5
    assert all(
        "Recycle Bin" not in (*lst.folder_path, lst.name) for lst in bundle.lists
    )
    assert "left out the recycle bin 'Recycle Bin' and its 6 entries" in bundle.warnings


@pytest.mark.realdata
@pytest.mark.parametrize("version", ["test3", "test4"])
def test_pykeepass_suite_database(realdata: Path, version: str) -> None:
    """test3/test4: 15 entries, references resolved, OTP and blank title handled."""
    bundle = read_file(
        realdata / f"pykeepass/{version}.kdbx",
        password="password",
        key_file=realdata / f"pykeepass/{version}.key",
    )
    assert bundle.record_count() == 15
    records = by_title(bundle)
    clone = records["foobar_entry - Clone with prefix and suffix"]
    assert (clone.username, clone.password) == ("domain\\foobar2", "AfoobarBC")
    assert records["foobar_entry - Clone"].password == "foobar"
    assert records["blank_title"].username == "blank_title"
    otp_records = [r for r in bundle.records() if r.otp_secret]
    assert otp_records[0].otp_secret.startswith("otpauth://totp/foobar_entry")
    assert [lst.name for lst in bundle.lists] == [
        "Root",
        "foobar_group",
        "subgroup",
        "Работа",
    ]


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "password", "key", "error", "message"),
    [
        ("keepassxc/BrokenHeaderHash.kdbx", "", None, IntegrityError, "HeaderHash"),
        ("keepassxc/NewDatabase.kdbx", "wrong", None, WrongPassword, "check both"),
        (
            "keepassxc/SyncDatabaseDifferentPassword.kdbx",
            "a",
            None,
            WrongPassword,
            "check both",
        ),
        ("keepassxc/KeyFileProtected.kdbx", "a", None, WrongPassword, "check both"),
        (
            "keepassxc/YubiKeyProtectedPasswords.kdbx",
            "a",
            None,
            WrongPassword,
            "check both",
        ),
        (
            "keepassxc/FileKeyXmlV2HashFail.kdbx",
            None,
            "keepassxc/FileKeyXmlV2HashFail.keyx",
            WrongPassword,
            "damaged",
        ),
        (
            "keepassxc/FileKeyXmlV2BrokenHex.kdbx",
            None,
            "keepassxc/FileKeyXmlV2BrokenHex.keyx",
            WrongPassword,
            "damaged",
        ),
        (
            "keepassxc/FileKeyXmlBrokenBase64.kdbx",
            None,
            "keepassxc/FileKeyXmlBrokenBase64.key",
            WrongPassword,
            "damaged",
        ),
        (
            "pykeepass/test4.kdbx",
            "password",
            "pykeepass/test.svg",
            WrongPassword,
            "check both",
        ),
        (
            "pykeepass/test4.kdbx",
            "password",
            "pykeepass/test_invalidversion.key",
            WrongPassword,
            "key file",
        ),
        (
            "keepassxc/NewDatabase.kdbx",
            None,
            None,
            PasswordRequired,
            "--password-stdin",
        ),
        ("keepassxc/Format200.kdbx", "a", None, UnsupportedFormat, "KDBX 2.0"),
        (
            "keepassxc/FileKeyHex.kdbx",
            None,
            "keepassxc/FileKeyHex.key",
            UnsupportedFormat,
            "KDBX 4",
        ),
        ("keepassxc/basic.kdb", "masterpw", None, UnsupportedFormat, "KeePass 1.x"),
        ("keepassxc/Twofish.kdb", "masterpw", None, UnsupportedFormat, "KeePass 1.x"),
    ],
)
def test_real_databases_refused(
    realdata: Path,
    name: str,
    password: str | None,
    key: str | None,
    error: type[InterchangeError],
    message: str,
) -> None:
    """Tampered, wrongly-keyed and unsupported databases each raise one clear error."""
    key_file = realdata / key if key else None
    with pytest.raises(error) as caught:
        read_file(realdata / name, password=password, key_file=key_file)
    assert message in str(caught.value)


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("flip", "error"), [(150, IntegrityError), (12000, IntegrityError)]
)
def test_altered_kdbx3_is_refused(
    realdata: Path, tmp_path: Path, flip: int, error: type[InterchangeError]
) -> None:
    """Changing a header or payload byte of a KDBX 3.1 file is caught."""
    data = bytearray((realdata / "keepassxc/NewDatabase.kdbx").read_bytes())
    data[flip] ^= 0xFF
    altered = tmp_path / "altered.kdbx"
    altered.write_bytes(bytes(data))
    with pytest.raises(error):
        read_file(altered, password="a")
