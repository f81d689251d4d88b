"""Tests for the neutral model's shared rules: fallbacks and limits."""

import pytest

from strongroom.server.interchange.bundle import (
    FALLBACK_WARNINGS_SHOWN,
    ImportBundle,
    ImportedField,
    ImportedList,
    ImportedRecord,
    ListCollector,
    fallback_title,
    finalize,
    url_host,
)
from strongroom.server.interchange.errors import MalformedFile


def bundle_of(
    *records: ImportedRecord, folders: tuple[str, ...] = (), name: str = "L"
) -> ImportBundle:
    return ImportBundle("csv", [ImportedList(folders, name, list(records))])


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            ImportedRecord("", username="jdoe", url="https://www.example.com/x"),
            "www.example.com (jdoe)",
        ),
        (ImportedRecord("", url="example.com/login"), "example.com"),
        (ImportedRecord("", username="jdoe", host_name="srv01"), "srv01 (jdoe)"),
        (ImportedRecord("", username="jdoe"), "jdoe"),
        (ImportedRecord(""), "Untitled entry 3"),
        (
            ImportedRecord("", username="u" * 255, url="https://h.example"),
            "Untitled entry 3",
        ),
        (ImportedRecord("", url="http://[::1"), "Untitled entry 3"),
    ],
)
def test_fallback_title(record: ImportedRecord, expected: str) -> None:
    """The fallback is host (user), host, user, else 'Untitled entry N'."""
    assert fallback_title(record, 3) == expected


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://User@Example.COM:8443/p", "example.com"),
        ("example.org", "example.org"),
        ("", ""),
    ],
)
def test_url_host(url: str, host: str) -> None:
    """Hosts come from full URLs and bare domains alike."""
    assert url_host(url) == host


def test_finalize_numbers_untitled_records_and_caps_warnings() -> None:
    """Untitled records count up from 1; excess warnings are summed up."""
    records = [ImportedRecord("", source_ref=f"row {n}") for n in range(2, 30)]
    bundle = finalize(bundle_of(*records))
    assert records[0].title == "Untitled entry 1"
    assert records[-1].title == "Untitled entry 28"
    assert len(bundle.warnings) == FALLBACK_WARNINGS_SHOWN + 1
    assert (
        bundle.warnings[-1] == "8 more records had no title and were named the same way"
    )


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        (
            bundle_of(ImportedRecord("t" * 256, source_ref="row 9")),
            "row 9: the title is 256 characters long; the limit is 255",
        ),
        (
            bundle_of(ImportedRecord("ok", username="u" * 256, source_ref="row 2")),
            "row 2: the username is 256",
        ),
        (
            bundle_of(ImportedRecord("ok", description="d" * 256, source_ref="row 2")),
            "row 2: the description is 256",
        ),
        (
            bundle_of(ImportedRecord("ok", source_ref="row 2"), name="n" * 201),
            "row 2: the list name is 201",
        ),
        (
            bundle_of(ImportedRecord("ok", source_ref="row 4"), folders=("f" * 201,)),
            "row 4: the folder name is 201",
        ),
        (
            bundle_of(ImportedRecord("ok", source_ref="row 4"), folders=(" ",)),
            "row 4: the folder name is empty",
        ),
        (
            bundle_of(ImportedRecord("ok", notes="a\x00b", source_ref="row 5")),
            "row 5: the notes contains a NUL",
        ),
        (
            bundle_of(
                ImportedRecord(
                    "ok", fields=[ImportedField(" ", "v")], source_ref="row 6"
                )
            ),
            "row 6: a custom field has no name",
        ),
    ],
)
def test_limits_are_enforced_never_truncated(
    bundle: ImportBundle, message: str
) -> None:
    """Every server limit raises MalformedFile naming the place."""
    with pytest.raises(MalformedFile) as caught:
        finalize(bundle)
    assert message in str(caught.value)


def test_values_at_the_limit_pass() -> None:
    """Exactly 255 and 200 characters are allowed."""
    record = ImportedRecord("t" * 255, username="u" * 255, description="d" * 255)
    finalize(bundle_of(record, folders=("f" * 200,), name="n" * 200))
    assert record.title == "t" * 255


def test_collector_merges_same_place() -> None:
    """Records for the same folder and list name share one list, in order."""
    collector = ListCollector()
    collector.add(("A",), "L", ImportedRecord("1"))
    collector.add((), "L", ImportedRecord("2"))
    collector.add(("A",), "L", ImportedRecord("3"))
    lists = collector.lists()
    assert [
        (lst.folder_path, lst.name, [r.title for r in lst.records]) for lst in lists
    ] == [
        (("A",), "L", ["1", "3"]),
        ((), "L", ["2"]),
    ]


def test_record_count() -> None:
    """record_count adds up the records of every list."""
    bundle = ImportBundle(
        "csv", [ImportedList((), "a", [ImportedRecord("x")] * 2), ImportedList((), "b")]
    )
    assert bundle.record_count() == 2
