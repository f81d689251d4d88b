"""Tests for the generic CSV reader."""

import datetime
from pathlib import Path

import pytest

from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedField,
    ImportedRecord,
)
from strongroom.server.interchange.errors import MalformedFile
from strongroom.server.interchange.formats.csv_generic import (
    normalize_header,
    parse_records,
    read_csv,
)
from strongroom.server.interchange.readers import read_file


def write(tmp_path: Path, content: str | bytes, name: str = "vault.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def only_record(bundle: ImportBundle) -> ImportedRecord:
    records = list(bundle.records())
    assert len(records) == 1
    return records[0]


@pytest.mark.parametrize(
    ("header", "attribute"),
    [
        ("Title", "title"),
        ("NAME", "title"),
        ("User Name", "username"),
        ("user_name", "username"),
        ("Login", "username"),
        ("login_username", "username"),
        ("Password", "password"),
        ("URL", "url"),
        ("uri", "url"),
        ("Website", "url"),
        ("Notes", "notes"),
        ("note", "notes"),
        ("extra", "notes"),
        ("Description", "description"),
        ("Domain", "domain"),
        ("Host Name", "host_name"),
        ("hostname", "host_name"),
        ("OTP", "otp_secret"),
        ("TOTP", "otp_secret"),
        ("OTPAuth", "otp_secret"),
    ],
)
def test_header_names_are_recognised_case_insensitively(
    tmp_path: Path, header: str, attribute: str
) -> None:
    """Each common header spelling fills its record field."""
    if attribute == "title":
        content = f"{header},Other\nvalue,x\n"
    else:
        content = f"Title,{header}\nFirst,value\n"
    path = write(tmp_path, content)
    record = only_record(read_file(path, format="csv"))
    assert getattr(record, attribute) == "value"


@pytest.mark.parametrize("header", ["expiry", "Expires", "ExpiryDate", "expiry date"])
def test_expiry_headers_give_a_date(tmp_path: Path, header: str) -> None:
    """Expiry columns are parsed into expires_at."""
    path = write(tmp_path, f"title,{header}\nA,2031-02-03\n")
    assert only_record(read_csv(path)).expires_at == datetime.date(2031, 2, 3)


@pytest.mark.parametrize(
    ("header", "value", "folders", "list_name"),
    [
        ("folder", "A/B/C", ("A", "B"), "C"),
        ("Grouping", "A\\B", ("A",), "B"),
        ("group", "Only", (), "Only"),
        ("list", "/Lead/Tail/", ("Lead",), "Tail"),
        ("folder", "", (), "vault"),
    ],
)
def test_folder_column_chooses_list_and_folders(
    tmp_path: Path, header: str, value: str, folders: tuple[str, ...], list_name: str
) -> None:
    """A folder-like column's last part names the list, the rest the folders."""
    path = write(tmp_path, f"title,{header}\nEntry,{value}\n")
    (imported,) = read_file(path, format="csv").lists
    assert (imported.folder_path, imported.name) == (folders, list_name)


def test_folder_and_list_columns_together(tmp_path: Path) -> None:
    """With both columns the folder column is the whole path."""
    path = write(tmp_path, "title,folder,list\nE,A/B,Team list\n")
    (imported,) = read_file(path, format="csv").lists
    assert (imported.folder_path, imported.name) == (("A", "B"), "Team list")


def test_without_folder_everything_goes_to_a_list_named_after_the_file(
    tmp_path: Path,
) -> None:
    """No folder column means one top-level list named after the file stem."""
    path = write(tmp_path, "title\nA\nB\n", name="Shared logins.csv")
    bundle = read_file(path)
    assert [(lst.folder_path, lst.name) for lst in bundle.lists] == [
        ((), "Shared logins")
    ]
    assert bundle.record_count() == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('title,notes\nA,"x, y"\n', "x, y"),
        ('title,notes\nA,"say ""hi"""\n', 'say "hi"'),
        ('title,notes\r\nA,"one\r\ntwo"\r\n', "one\r\ntwo"),
        ('title,notes\nA,"one\ntwo"\n', "one\ntwo"),
        ("\ufefftitle,notes\nA,plain\n", "plain"),
        ("title,notes\nA,  spaced  \n", "  spaced  "),
    ],
)
def test_quoting_line_endings_and_bom(
    tmp_path: Path, content: str, expected: str
) -> None:
    """Quoted commas, doubled quotes, CRLF/LF, newlines and a BOM all read right."""
    record = only_record(read_file(write(tmp_path, content)))
    assert (record.title, record.notes) == ("A", expected)


def test_short_rows_count_missing_cells_as_empty(tmp_path: Path) -> None:
    """A row shorter than the header leaves the missing fields empty."""
    record = only_record(read_file(write(tmp_path, "title,username,password\nA\n")))
    assert (record.title, record.username, record.password) == ("A", "", "")


def test_blank_rows_are_skipped(tmp_path: Path) -> None:
    """Empty lines and rows of empty cells are not records."""
    bundle = read_file(write(tmp_path, "title,user\nA,u\n\n,\n"))
    assert bundle.record_count() == 1


def test_unknown_columns_become_generic_fields(tmp_path: Path) -> None:
    """Unknown headers become fields; secret-sounding ones are secret."""
    path = write(
        tmp_path, "title,Account PIN,Colour,Empty,API Secret\nA,1234,red,,s3\n"
    )
    assert only_record(read_file(path)).fields == [
        ImportedField("Account PIN", "1234", False),
        ImportedField("Colour", "red"),
        ImportedField("API Secret", "s3", True),
    ]


def test_field_and_secret_prefixes(tmp_path: Path) -> None:
    """field:/secret: headers are always generic fields, even named 'Password'."""
    path = write(tmp_path, "title,field:Password,secret:PIN\nA,shown,9\n")
    assert only_record(read_file(path)).fields == [
        ImportedField("Password", "shown"),
        ImportedField("PIN", "9", True),
    ]


def test_a_second_column_for_the_same_field_is_generic(tmp_path: Path) -> None:
    """When two columns mean one field the first wins, the second is a field."""
    record = only_record(read_file(write(tmp_path, "title,name\nFirst,Second\n")))
    assert record.title == "First"
    assert record.fields == [ImportedField("name", "Second")]


def test_empty_title_gets_fallback_and_warning(tmp_path: Path) -> None:
    """An empty title becomes 'host (username)' and a warning names the row."""
    path = write(tmp_path, "title,username,url\n,jdoe,https://example.com/login\n")
    bundle = read_file(path)
    assert only_record(bundle).title == "example.com (jdoe)"
    assert bundle.warnings == [
        "row 2: no title, so it was imported as 'example.com (jdoe)'"
    ]


def test_bad_expiry_is_kept_as_a_field(tmp_path: Path) -> None:
    """An expiry that is not a date stays as a field, with a warning."""
    bundle = read_file(write(tmp_path, "title,expiry\nA,01 / 22\n"))
    record = only_record(bundle)
    assert record.expires_at is None
    assert record.fields == [ImportedField("Expiry", "01 / 22")]
    assert "row 2" in bundle.warnings[0]


def test_browser_internal_rows_are_skipped(tmp_path: Path) -> None:
    """Firefox's chrome:// sync credential is not imported."""
    content = (
        "url,username,password\nchrome://FirefoxAccounts,x,y\nhttps://a.example,u,p\n"
    )
    bundle = read_file(write(tmp_path, content))
    assert [r.url for r in bundle.records()] == ["https://a.example"]
    assert "row 2: skipped" in bundle.warnings[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('title,notes\nA,"never closed\n', "row 2: a quoted value is never closed"),
        (b"title\n\xe9t\xe9\n", "line 2: the file is not valid UTF-8"),
        ("title,user\nA,b,c\n", "row 2: 3 values but the header names 2 columns"),
        ("", "the file is empty"),
        ("title\n" + "A" * 200_000 + "\n", "row 2: a value is longer than"),
    ],
)
def test_malformed_csv_gives_one_clear_error(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    """Each kind of broken CSV raises MalformedFile naming the place."""
    with pytest.raises(MalformedFile) as caught:
        read_file(write(tmp_path, content), format="csv")
    assert message in str(caught.value)


def test_backslash_escaped_quotes_are_read_with_a_warning() -> None:
    """1Password-for-Mac style \\" escapes are understood, and said so."""
    records, warnings = parse_records('title,tags\nA,"{(\n  \\"Kit\\"\n)}"\n')
    assert records[1] == ["A", '{(\n  "Kit"\n)}']
    assert "backslashes" in warnings[0]


def test_stray_quotes_are_read_leniently_with_a_warning() -> None:
    """An undoubled quote inside quotes is read leniently and the row named."""
    records, warnings = parse_records('a,b\n"x"y",z\n"q","r"\n')
    assert len(records) == 3
    assert warnings[0].startswith("row 2:")


def test_title_over_limit_is_refused(tmp_path: Path) -> None:
    """A 256-character title is refused, naming the row, not truncated."""
    path = write(tmp_path, f"title\nok\n{'t' * 256}\n")
    with pytest.raises(MalformedFile, match="row 3: the title is 256 characters"):
        read_file(path)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("User Name", "username"), (" login_uri ", "loginuri"), ("E-Mail", "email")],
)
def test_normalize_header(raw: str, normal: str) -> None:
    """Header matching ignores case, spaces, '_', '-' and '.'."""
    assert normalize_header(raw) == normal


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    [
        "dashlaneCsv__credentials__credentialsData.csv",
        "dashlaneCsv__id__identityData.csv",
        "dashlaneCsv__multiplePersonalInfo__multiplePersonalInfoData.csv",
        "dashlaneCsv__payments__paymentsData.csv",
        "dashlaneCsv__personalInfo__personalInfoData.csv",
        "dashlaneCsv__securenotes__secureNoteData.csv",
        "firefoxCsv__firefoxAccountsData.csv",
        "firefoxCsv__simplePasswordData.csv",
        "lastpassCsv__01-should-parse-expiration-date.csv",
        "lastpassCsv__02-should-parse-blank-card-note.csv",
        "lastpassCsv__03-should-parse-card-expiration-date-w-no-exp-year.csv",
        "lastpassCsv__04-should-parse-card-expiration-date-w-no-month.csv",
        "mykiCsv__UserAccount__userAccountData.csv",
        "mykiCsv__UserCreditCard__userCreditCardData.csv",
        "mykiCsv__UserIdCard__userIdCardData.csv",
        "mykiCsv__UserIdentity__userIdentityData.csv",
        "mykiCsv__UserNote__userNoteData.csv",
        "mykiCsv__UserTwofa__userTwoFaData.csv",
        "nordpassCsv__nordpass.card.csv",
        "nordpassCsv__nordpass.identity.csv",
        "nordpassCsv__nordpass.login.csv",
        "nordpassCsv__nordpass.secureNote.csv",
        "onePasswordCsv__creditCard.mac.csv",
        "onePasswordCsv__creditCard.windows.csv",
        "onePasswordCsv__identity.mac.csv",
        "onePasswordCsv__identity.windows.csv",
        "onePasswordCsv__multipleItems.mac.csv",
        "onePasswordCsv__multipleItems.windows.csv",
        "safariCsv__oldSimplePasswordData.csv",
        "safariCsv__simplePasswordData.csv",
    ],
)
def test_every_vendor_sample_imports(realdata: Path, name: str) -> None:
    """Each vendor CSV sample is detected as CSV and imports without error."""
    bundle = read_file(realdata / "bitwarden-jslib" / name)
    assert bundle.source_format == "csv"
    assert bundle.record_count() >= 1


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("onePasswordCsv__multipleItems.mac.csv", 4),
        ("onePasswordCsv__multipleItems.windows.csv", 4),
        ("onePasswordCsv__identity.mac.csv", 1),
        ("onePasswordCsv__creditCard.windows.csv", 1),
        ("lastpassCsv__01-should-parse-expiration-date.csv", 1),
        ("mykiCsv__UserIdCard__userIdCardData.csv", 14),
        ("nordpassCsv__nordpass.login.csv", 1),
        ("nordpassCsv__nordpass.card.csv", 1),
        ("nordpassCsv__nordpass.identity.csv", 1),
        ("nordpassCsv__nordpass.secureNote.csv", 1),
        ("firefoxCsv__firefoxAccountsData.csv", 1),
        ("firefoxCsv__simplePasswordData.csv", 1),
        ("dashlaneCsv__credentials__credentialsData.csv", 1),
        ("dashlaneCsv__id__identityData.csv", 5),
        ("dashlaneCsv__payments__paymentsData.csv", 2),
        ("dashlaneCsv__securenotes__secureNoteData.csv", 1),
        ("dashlaneCsv__multiplePersonalInfo__multiplePersonalInfoData.csv", 6),
        ("safariCsv__simplePasswordData.csv", 1),
        ("safariCsv__oldSimplePasswordData.csv", 1),
    ],
)
def test_vendor_sample_counts(realdata: Path, name: str, count: int) -> None:
    """Record counts match what the samples' own tests expect."""
    assert read_file(realdata / "bitwarden-jslib" / name).record_count() == count


@pytest.mark.realdata
def test_safari_sample_fields(realdata: Path) -> None:
    """Safari: title, password, a two-line note and the OTPAuth URI."""
    record = only_record(
        read_file(realdata / "bitwarden-jslib/safariCsv__simplePasswordData.csv")
    )
    assert record.title == "example.com (example_user)"
    assert record.username == "example_user"
    assert record.password == "example_p@ssword"
    assert record.notes == "Example note\nMore notes on new line"
    assert record.otp_secret == "otpauth://totp/test?secret=examplesecret"


@pytest.mark.realdata
def test_firefox_sample_fields(realdata: Path) -> None:
    """Firefox: the URL, foo/bar, and a title from the URL host and user."""
    record = only_record(
        read_file(realdata / "bitwarden-jslib/firefoxCsv__simplePasswordData.csv")
    )
    assert (record.url, record.username, record.password) == (
        "https://example.com",
        "foo",
        "bar",
    )
    assert record.title == "example.com (foo)"


@pytest.mark.realdata
def test_dashlane_credentials_sample(realdata: Path) -> None:
    """Dashlane: jdoe/somePassword, the OTP seed, in list 'Entertainment'."""
    bundle = read_file(
        realdata / "bitwarden-jslib/dashlaneCsv__credentials__credentialsData.csv"
    )
    (imported,) = bundle.lists
    assert (imported.folder_path, imported.name) == ((), "Entertainment")
    record = only_record(bundle)
    assert (record.title, record.username, record.password) == (
        "example.com",
        "jdoe",
        "somePassword",
    )
    assert record.otp_secret == "someTOTPSeed"
    assert record.notes == "some note for example.com"


@pytest.mark.realdata
def test_lastpass_card_sample(realdata: Path) -> None:
    """LastPass: name is the title, extra the notes, fav a field."""
    record = only_record(
        read_file(
            realdata
            / "bitwarden-jslib/lastpassCsv__01-should-parse-expiration-date.csv"
        )
    )
    assert record.title == "Credit-card"
    assert "Start Date:October,2017" in record.notes
    assert record.url == "http://sn"


@pytest.mark.realdata
def test_nordpass_login_folder(realdata: Path) -> None:
    """NordPass: the folder column names the list."""
    bundle = read_file(realdata / "bitwarden-jslib/nordpassCsv__nordpass.login.csv")
    assert [lst.name for lst in bundle.lists] == ["SomeFolderForVaultItem"]
    assert only_record(bundle).password == "someStrongPassword"


@pytest.mark.realdata
def test_nordpass_folder_rows_are_not_records(realdata: Path) -> None:
    """NordPass's row naming the folder 'notesFolder' is skipped with a
    warning; the one note lands in that folder's list, as its own tests say."""
    bundle = read_file(
        realdata / "bitwarden-jslib/nordpassCsv__nordpass.secureNote.csv"
    )
    record = only_record(bundle)
    assert (record.title, record.notes) == (
        "MySuperSecureNoteTitle",
        "MySuperSecureNote",
    )
    assert [lst.name for lst in bundle.lists] == ["notesFolder"]
    assert any("row 2: skipped 'notesFolder'" in w for w in bundle.warnings)


def test_a_lone_name_is_a_record_unless_it_is_a_folder(tmp_path: Path) -> None:
    """A row with only a title stays a record; it is skipped only when other
    rows are in a folder of that name."""
    content = "name,password,folder\nWork,,\nHome,,\nmail,pw,Work\n"
    bundle = read_file(write(tmp_path, content))
    assert sorted(r.title for r in bundle.records()) == ["Home", "mail"]
