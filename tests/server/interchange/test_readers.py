"""Tests for read_file, the single import entry point."""

from pathlib import Path

import pytest

from strongroom.server.interchange.errors import (
    InterchangeError,
    UnreadableFile,
    UnsupportedFormat,
)
from strongroom.server.interchange.readers import FORMATS, read_file


def test_formats_lists_every_reader() -> None:
    """FORMATS names the five import formats plus Strongroom's own JSON."""
    assert FORMATS == (
        "csv",
        "passwordstate",
        "kdbx",
        "keepass-xml",
        "bitwarden-json",
        "strongroom-json",
    )


def test_unknown_format_name_is_refused(tmp_path: Path) -> None:
    """A --format value that is not a format name raises UnsupportedFormat."""
    path = tmp_path / "a.csv"
    path.write_text("title\nA\n")
    with pytest.raises(UnsupportedFormat, match="'lastpass' is not a format name"):
        read_file(path, format="lastpass")


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    """A path that does not exist gives UnreadableFile, not OSError."""
    with pytest.raises(UnreadableFile, match=r"cannot read missing\.csv"):
        read_file(tmp_path / "missing.csv")


def test_errors_belong_to_the_family(tmp_path: Path) -> None:
    """Interchange errors carry a message and a hint for the edges."""
    with pytest.raises(InterchangeError) as caught:
        read_file(tmp_path / "missing.csv")
    assert caught.value.message and caught.value.hint


@pytest.mark.parametrize(
    ("password", "key", "warning"),
    [
        ("pw", False, "a csv file has no password; it was not used"),
        (None, True, "only KeePass databases use a key file; it was not used"),
    ],
)
def test_unused_credentials_are_reported(
    tmp_path: Path, password: str | None, key: bool, warning: str
) -> None:
    """A password or key file given for a plain format is flagged, not ignored."""
    path = tmp_path / "a.csv"
    path.write_text("title\nA\n")
    bundle = read_file(
        path, password=password, key_file=tmp_path / "k" if key else None
    )
    assert warning in bundle.warnings


def test_format_can_be_forced(tmp_path: Path) -> None:
    """An explicit format skips detection (a headerless-looking CSV reads)."""
    path = tmp_path / "odd.txt"
    path.write_text("Colour,Shape\nred,round\n")
    bundle = read_file(path, format="csv")
    record = next(bundle.records())
    assert record.title == "Untitled entry 1"
    assert [f.name for f in record.fields] == ["Colour", "Shape"]
