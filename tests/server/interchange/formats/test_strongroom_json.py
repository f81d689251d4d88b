"""Tests for reading Strongroom's own JSON export."""

import json
from pathlib import Path

import pytest

from strongroom.server.interchange.errors import MalformedFile, UnsupportedFormat
from strongroom.server.interchange.readers import read_file


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_minimal_document_reads(tmp_path: Path) -> None:
    """Only titles are required; other keys default to empty."""
    document = {
        "format": "strongroom-json",
        "version": 1,
        "lists": [{"folder_path": ["A"], "name": "L", "records": [{"title": "T"}]}],
    }
    bundle = read_file(write(tmp_path, document))
    assert bundle.source_format == "strongroom-json"
    (imported,) = bundle.lists
    assert (imported.folder_path, imported.name) == (("A",), "L")
    record = imported.records[0]
    assert (record.title, record.password, record.expires_at, record.fields) == (
        "T",
        "",
        None,
        [],
    )


@pytest.mark.parametrize(
    ("lists", "message"),
    [
        ("nope", "the file.lists: must be a JSON list"),
        ([{"name": 5}], "lists[0].name: must be text"),
        ([{"name": "L", "folder_path": [1]}], "lists[0].folder_path[0]: must be text"),
        (
            [{"name": "L", "records": [{"title": "T", "expires_at": "soon"}]}],
            "lists[0].records[0].expires_at: 'soon' is not a YYYY-MM-DD date",
        ),
        (
            [
                {
                    "name": "L",
                    "records": [
                        {
                            "title": "T",
                            "fields": [{"name": "n", "value": "v", "secret": "yes"}],
                        }
                    ],
                }
            ],
            "lists[0].records[0].fields[0].secret: must be true or false",
        ),
        (
            [{"name": "L", "records": ["x"]}],
            "lists[0].records[0]: must be a JSON object",
        ),
        ([{"name": "", "records": [{"title": "T"}]}], "the list name is empty"),
    ],
)
def test_wrong_shapes_are_refused(tmp_path: Path, lists: object, message: str) -> None:
    """Each wrong type is reported with its path in the document."""
    document = {"format": "strongroom-json", "version": 1, "lists": lists}
    with pytest.raises(MalformedFile) as caught:
        read_file(write(tmp_path, document))
    assert message in str(caught.value)


def test_newer_version_is_unsupported(tmp_path: Path) -> None:
    """A document from a later format version is refused."""
    with pytest.raises(UnsupportedFormat, match="version 2"):
        read_file(
            write(tmp_path, {"format": "strongroom-json", "version": 2, "lists": []})
        )


def test_other_json_is_not_a_strongroom_export(tmp_path: Path) -> None:
    """Forcing the format on another JSON file says it is not one."""
    with pytest.raises(MalformedFile, match="not a Strongroom export"):
        read_file(write(tmp_path, {"items": []}), format="strongroom-json")
