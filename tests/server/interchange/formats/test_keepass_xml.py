"""Tests for the KeePass 2 XML export reader."""

import datetime
from pathlib import Path

import pytest

from strongroom.server.interchange.bundle import ImportedField
from strongroom.server.interchange.errors import MalformedFile, UnsupportedFormat
from strongroom.server.interchange.readers import read_file


def entry_xml(title: str, *strings: str, extra: str = "") -> str:
    values = "".join(strings)
    return (
        f"<Entry><UUID>{extra}</UUID><String><Key>Title</Key>"
        f"<Value>{title}</Value></String>{values}</Entry>"
    )


def string_xml(key: str, value: str, attributes: str = "") -> str:
    return f"<String><Key>{key}</Key><Value{attributes}>{value}</Value></String>"


def document(root_body: str, meta: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f"<KeePassFile><Meta>{meta}</Meta><Root>{root_body}</Root></KeePassFile>"
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "export.xml"
    path.write_text(text, encoding="utf-8")
    return path


def test_groups_fields_and_secrets(tmp_path: Path) -> None:
    """Groups map to folders/lists; ProtectInMemory values are secret fields."""
    mail = entry_xml(
        "Mail",
        string_xml("UserName", "u"),
        string_xml("Password", "p", ' ProtectInMemory="True"'),
        string_xml("PIN", "1234", ' ProtectInMemory="True"'),
        string_xml("Colour", "red"),
        string_xml("otp", "otpauth://totp/m?secret=AB"),
    )
    text = document(
        "<Group><Name>Root</Name>"
        f"{entry_xml('Top')}"
        f"<Group><Name>Outer</Name><Group><Name>Inner</Name>{mail}</Group></Group>"
        "</Group>",
        meta="<DatabaseName>My DB</DatabaseName>",
    )
    bundle = read_file(write(tmp_path, text))
    assert bundle.source_format == "keepass-xml"
    assert [(lst.folder_path, lst.name) for lst in bundle.lists] == [
        ((), "My DB"),
        (("Outer",), "Inner"),
    ]
    record = bundle.lists[1].records[0]
    assert (record.username, record.password) == ("u", "p")
    assert record.otp_secret == "otpauth://totp/m?secret=AB"
    assert record.fields == [
        ImportedField("PIN", "1234", True),
        ImportedField("Colour", "red", False),
    ]


def test_references_and_expiry(tmp_path: Path) -> None:
    """Field references resolve by title and uuid; an expiry date is kept."""
    uuid_b64 = "AAECAwQFBgcICQoLDA0ODw=="  # 00010203-0405-0607-0809-0a0b0c0d0e0f
    source = entry_xml(
        "Source",
        string_xml("UserName", "alice"),
        string_xml("Password", "s3"),
        extra=uuid_b64,
    ).replace(
        "</Entry>",
        "<Times><Expires>True</Expires>"
        "<ExpiryTime>2030-04-05T10:00:00Z</ExpiryTime></Times></Entry>",
    )
    copy = entry_xml(
        "Copy",
        string_xml("UserName", "{REF:U@T:Source}"),
        string_xml("Password", "{REF:P@I:000102030405060708090A0B0C0D0E0F}"),
        string_xml("URL", "{REF:A@T:Missing}"),
    )
    text = document(f"<Group><Name>R</Name>{source}{copy}</Group>")
    bundle = read_file(write(tmp_path, text))
    first, second = bundle.records()
    assert first.expires_at == datetime.date(2030, 4, 5)
    assert (second.username, second.password) == ("alice", "s3")
    assert second.url == "{REF:A@T:Missing}"
    assert any("field reference could not be resolved" in w for w in bundle.warnings)


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (document(""), MalformedFile, "no root group"),
        ("<KeePassFile><Root><Group>", MalformedFile, "line 1, column 27"),
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><KeePassFile/>',
            MalformedFile,
            "DOCTYPE",
        ),
        (
            document(
                "<Group><Name>R</Name>"
                + entry_xml(
                    "E", string_xml("Password", "c2VjcmV0", ' Protected="True"')
                )
                + "</Group>"
            ),
            MalformedFile,
            "entry 'E': the value of 'Password' is encrypted",
        ),
        ("<database><card/></database>", UnsupportedFormat, "<database>"),
    ],
)
def test_bad_xml_is_refused(
    tmp_path: Path, text: str, error: type[Exception], message: str
) -> None:
    """Broken, entity-bearing, encrypted or foreign XML gives one clear error."""
    with pytest.raises(error) as caught:
        read_file(write(tmp_path, text), format="keepass-xml")
    assert message in str(caught.value)


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    """An entity-expansion bomb is stopped at its DOCTYPE, before expanding."""
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(8)
    )
    text = (
        f'<?xml version="1.0"?><!DOCTYPE KeePassFile [{entities}]>'
        "<KeePassFile>&i;</KeePassFile>"
    )
    with pytest.raises(MalformedFile, match="DOCTYPE"):
        read_file(write(tmp_path, text))


@pytest.mark.realdata
def test_keepass2_spec_test_data(realdata: Path) -> None:
    """The KeePass 2 spec sample: Google in Root/Folder2 with two custom strings."""
    bundle = read_file(realdata / "bitwarden-jslib/keepass2Xml__spec-TestData.xml")
    assert [(lst.folder_path, lst.name) for lst in bundle.lists] == [((), "Folder2")]
    (record,) = bundle.records()
    assert (record.title, record.username, record.password) == (
        "Google",
        "googleuser",
        "googpass",
    )
    assert record.url == "google.com"
    assert record.notes == "This is a note!!!\n\nline1\nline2"
    assert record.fields == [
        ImportedField("att2", "att2value"),
        ImportedField("attr1", "att1value\n\nline1\nline2"),
    ]


@pytest.mark.realdata
def test_keepassxc_new_database_xml(realdata: Path) -> None:
    """NewDatabase.xml: named after ANAME, Windows/Subsub, recycle bin left out."""
    bundle = read_file(realdata / "keepassxc/NewDatabase.xml")
    assert [(lst.folder_path, lst.name, len(lst.records)) for lst in bundle.lists] == [
        ((), "ANAME", 2),
        (("Windows",), "Subsub", 1),
    ]
    assert "delentry" not in {r.title for r in bundle.records()}
    second = bundle.lists[0].records[1]
    assert second.username == "notDEFUSERNAME"
    assert second.expires_at is not None
    assert ImportedField("CustomString", "isavalue") in second.fields


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "titles"),
    [
        # Harmless damage: deletion records, history and UUIDs are not imported.
        ("BrokenDeletedObjects.xml", ["Sample Entry 1"]),
        ("BrokenDifferentEntryHistoryUuid.xml", ["Untitled entry 1"]),
        ("BrokenGroupReference.xml", ["Sample Entry 1"]),
        ("BrokenNoEntryUuid.xml", ["Sample Entry 1"]),
        ("BrokenNoGroupUuid.xml", []),
        ("EmptyUuids.xml", []),
    ],
)
def test_repairable_broken_files_import(
    realdata: Path, name: str, titles: list[str]
) -> None:
    """Files whose damage does not touch what is imported are read sensibly."""
    bundle = read_file(realdata / "keepassxc" / name)
    assert [r.title for r in bundle.records()] == titles


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("BrokenNoRootGroup.xml", "the file has no root group"),
        ("BrokenTwoRootGroups.xml", "the file has 2 root groups"),
        ("BrokenTwoRoots.xml", "the file has 2 <Root> elements"),
    ],
)
def test_ambiguous_broken_files_are_refused(
    realdata: Path, name: str, message: str
) -> None:
    """Files without exactly one root tree are refused with MalformedFile."""
    with pytest.raises(MalformedFile, match=message):
        read_file(realdata / "keepassxc" / name)
