"""Tests for format detection from file content."""

from pathlib import Path

import pytest

from strongroom.server.interchange.detect import detect_format
from strongroom.server.interchange.errors import MalformedFile, UnsupportedFormat

KDBX4_HEAD = bytes.fromhex("03d9a29a67fb4bb5") + bytes.fromhex("00000400")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (KDBX4_HEAD + b"\x00" * 100, "kdbx"),
        (bytes.fromhex("03d9a29a67fb4bb5") + bytes.fromhex("01000300"), "kdbx"),
        (b'<?xml version="1.0"?>\n<KeePassFile><Root/></KeePassFile>', "keepass-xml"),
        (b"\xef\xbb\xbf<KeePassFile/>", "keepass-xml"),
        (b'{"encrypted": false, "folders": [], "items": []}', "bitwarden-json"),
        (b'  {"encrypted": true, "passwordProtected": true}', "bitwarden-json"),
        (
            b'{"format": "strongroom-json", "version": 1, "lists": []}',
            "strongroom-json",
        ),
        (b"PasswordListID,Title,UserName,Password\n1,a,b,c\n", "passwordstate"),
        (b"Title,Username,Password\nA,b,c\n", "csv"),
        (b"\xef\xbb\xbfurl,username,password\n", "csv"),
        (b"nickname,url\n", "csv"),
    ],
)
def test_detects_each_format(tmp_path: Path, content: bytes, expected: str) -> None:
    """Each format is told from its content, whatever the file is called."""
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    assert detect_format(path) == expected


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (
            bytes.fromhex("03d9a29a65fb4bb5") + b"\x00" * 8,
            UnsupportedFormat,
            "KeePass 1.x",
        ),
        (
            bytes.fromhex("03d9a29a67fb4bb5") + bytes.fromhex("00000200"),
            UnsupportedFormat,
            "KDBX 2.0",
        ),
        (
            bytes.fromhex("03d9a29a67fb4bb5") + bytes.fromhex("00000500"),
            UnsupportedFormat,
            "KDBX 5.0",
        ),
        (b"PK\x03\x04rest of a zip", UnsupportedFormat, "ZIP archive"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", UnsupportedFormat, "binary data"),
        (b"<html><body/></html>", UnsupportedFormat, "<html>"),
        (b'{"hello": "world"}', UnsupportedFormat, "JSON of an unknown layout"),
        (b"[1, 2, 3]", UnsupportedFormat, "top level is not an object"),
        (b"just some words\nand more\n", UnsupportedFormat, "--format"),
        (b"title;username;password\n", UnsupportedFormat, "';' or tabs"),
        (b'{"items": [', MalformedFile, "not valid JSON"),
        (b"<KeePassFile><Root>", MalformedFile, "not well-formed"),
        (b"title\n\xff\xfe\n", MalformedFile, "not valid UTF-8"),
        (b"", MalformedFile, "the file is empty"),
        (b" \r\n\n", MalformedFile, "the file is empty"),
        ("title,username\n".encode("utf-16"), MalformedFile, "UTF-16"),
    ],
)
def test_refuses_unknown_or_broken_content(
    tmp_path: Path, content: bytes, error: type[Exception], message: str
) -> None:
    """Unknown content names the formats; broken content says what is wrong."""
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    with pytest.raises(error) as caught:
        detect_format(path)
    assert message in str(caught.value)


def test_unknown_format_names_the_choices(tmp_path: Path) -> None:
    """The UnsupportedFormat hint lists every format and --format."""
    path = tmp_path / "x.txt"
    path.write_text("hello\n")
    with pytest.raises(UnsupportedFormat) as caught:
        detect_format(path)
    assert caught.value.hint is not None
    for name in (
        "csv",
        "passwordstate",
        "kdbx",
        "keepass-xml",
        "bitwarden-json",
        "--format",
    ):
        assert name in caught.value.hint


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("keepassxc/NewDatabase.kdbx", "kdbx"),
        ("keepassxc/Format400.kdbx", "kdbx"),
        ("keepassxc/NewDatabase.xml", "keepass-xml"),
        ("bitwarden-jslib/keepass2Xml__spec-TestData.xml", "keepass-xml"),
        ("keepassxc/bitwarden_export.json", "bitwarden-json"),
        ("keepassxc/bitwarden_encrypted_export.json", "bitwarden-json"),
        ("bitwarden-jslib/bitwardenJson__empty.json", "bitwarden-json"),
        ("bitwarden-jslib/safariCsv__simplePasswordData.csv", "csv"),
        ("passwordstate/passwordstate-import-header.csv", "passwordstate"),
    ],
)
def test_detects_real_files(realdata: Path, name: str, expected: str) -> None:
    """Real sample files are detected as their format."""
    assert detect_format(realdata / name) == expected


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("keepassxc/basic.kdb", "KeePassXC"),
        ("keepassxc/Format200.kdbx", "KDBX 4"),
        ("keepassxc/1PasswordExport.1pux", "ZIP archive"),
        ("bitwarden-jslib/safeInCloud__testData.xml", "<database>"),
    ],
)
def test_real_unsupported_files(realdata: Path, name: str, message: str) -> None:
    """Real files of unsupported formats are refused with advice."""
    with pytest.raises(UnsupportedFormat) as caught:
        detect_format(realdata / name)
    assert message in str(caught.value)
