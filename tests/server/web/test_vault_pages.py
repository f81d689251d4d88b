"""The vault tree, list pages, record pages and the password generator."""

import json
import re
import string

import pyotp
import pytest
from fastapi.testclient import TestClient

from strongroom.server.accounts import service as accounts
from strongroom.server.core.instance import Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level
from strongroom.server.web import generator, otp
from tests.server.web.conftest import Sample, csrf_of, events, field_error


def test_tree_shows_users_their_lists_and_admins_everything(
    alice: TestClient, admin: TestClient, sample: Sample
) -> None:
    """alice sees Team/Shared only; the admin sees both lists, the one without
    a permission marked, and the forms to create folders and lists."""
    mine = alice.get("/vault").text
    assert f'href="/lists/{sample.shared_id}"' in mine
    assert "Secret" not in mine
    assert "New password list" not in mine
    everything = admin.get("/vault").text
    assert "Secret" in everything and "Shared" in everything
    assert "no permission for you" in everything
    assert "New password list" in everything


def test_admin_creates_folder_and_list_with_field_errors(
    admin: TestClient, instance: Instance
) -> None:
    """Creating a folder and a list works; empty or clashing names come back
    with the message next to the field."""
    token = csrf_of(admin.get("/vault").text)
    empty = admin.post("/vault/folders", data={"csrf_token": token, "folder_name": ""})
    assert empty.status_code == 422
    assert field_error(empty.text, "folder_name") == "Enter the folder name."
    made = admin.post(
        "/vault/folders", data={"csrf_token": token, "folder_name": "Ops"}
    )
    assert "Folder &#39;Ops&#39; created." in made.text
    with instance.db.session() as session:
        ops = vault.find_folder(session, "Ops")
        assert ops is not None
        ops_id = ops.id
    created = admin.post(
        "/vault/lists",
        data={"csrf_token": token, "list_folder": ops_id, "list_name": "Servers"},
    )
    assert "Permissions of Servers" in created.text
    clash = admin.post(
        "/vault/lists",
        data={"csrf_token": token, "list_folder": ops_id, "list_name": "Servers"},
    )
    assert clash.status_code == 422
    assert "already exists" in field_error(clash.text, "list_name")
    slash = admin.post("/vault/lists", data={"csrf_token": token, "list_name": "a/b"})
    assert "must not contain" in field_error(slash.text, "list_name")


@pytest.fixture
def big_list(instance: Instance, sample: Sample) -> str:
    """Team/Shared filled with 120 records named Host 000..119."""
    with instance.db.session() as session:
        plist = vault.get_list(session, sample.shared_id)
        for i in range(120):
            vault.create_record(
                session,
                cli_operator(),
                instance.cipher,
                plist,
                vault.RecordInput(
                    title=f"Host {i:03d}",
                    username=f"user{119 - i:03d}",
                    url="https://50%_off.example" if i == 7 else "",
                ),
                audit_event=False,
            )
    return sample.shared_id


class Totp80(pyotp.TOTP):
    """pyotp accepting the 80-bit example secret of RFC 4226-era services."""

    min_secret_length_bits = 80


def _titles(html: str) -> list[str]:
    return re.findall(r'<a href="/records/[^"]+">([^<]+)</a>', html)


def test_list_page_searches_sorts_and_pages(alice: TestClient, big_list: str) -> None:
    """The list page shows 50 records per page, sorts by any column both ways,
    searches title/user name/URL (LIKE wildcards are literal) and pages."""
    first = alice.get(f"/lists/{big_list}")
    assert "121 records" in first.text
    assert _titles(first.text)[:2] == ["Host 000", "Host 001"]
    assert len(_titles(first.text)) == 50
    assert "Page 1 of 3" in first.text

    last = alice.get(f"/lists/{big_list}?page=3")
    assert _titles(last.text)[-1] == "Router"
    beyond = alice.get(f"/lists/{big_list}?page=999")
    assert "Page 3 of 3" in beyond.text

    by_user = alice.get(f"/lists/{big_list}?sort=username&dir=asc")
    assert _titles(by_user.text)[:2] == ["Router", "Host 119"]
    by_user_desc = alice.get(f"/lists/{big_list}?sort=username&dir=desc")
    assert _titles(by_user_desc.text)[:2] == ["Host 000", "Host 001"]
    assert 'aria-sort="descending"' in by_user_desc.text

    found = alice.get(f"/lists/{big_list}", params={"q": "host 11"})
    assert _titles(found.text) == [f"Host {i}" for i in range(110, 120)]
    literal = alice.get(f"/lists/{big_list}", params={"q": "50%_"})
    assert _titles(literal.text) == ["Host 007"]
    past_end = alice.get(f"/lists/{big_list}", params={"q": "host", "page": "99"})
    assert "Page 3 of 3" in past_end.text
    assert _titles(past_end.text)[-1] == "Host 119"
    nothing = alice.get(f"/lists/{big_list}", params={"q": "zzz"})
    assert "No record matches your search." in nothing.text


def test_htmx_search_returns_the_fragment(alice: TestClient, big_list: str) -> None:
    """With HX-Request the list answers only the records fragment."""
    response = alice.get(
        f"/lists/{big_list}", params={"q": "router"}, headers={"HX-Request": "true"}
    )
    assert response.text.lstrip().startswith('<section id="records"')
    assert _titles(response.text) == ["Router"]


def test_record_page_masks_and_reveal_is_audited(
    alice: TestClient, sample: Sample, instance: Instance
) -> None:
    """The record page masks the password (audited as a view); Reveal shows
    it (audited as record.revealed), as JSON for the script or as a page."""
    page = alice.get(f"/records/{sample.record_id}")
    assert "s3cret-Router-pw" not in page.text
    assert "behind the rack" not in page.text
    assert "••••" in page.text
    assert events(instance, "record.viewed")[-1].record_id == sample.record_id

    token = csrf_of(page.text)
    as_json = alice.post(
        f"/records/{sample.record_id}/reveal",
        headers={"Accept": "application/json", "X-CSRF-Token": token},
    )
    assert as_json.json()["password"] == "s3cret-Router-pw"
    assert as_json.json()["notes"] == "behind the rack"
    as_page = alice.post(
        f"/records/{sample.record_id}/reveal", data={"csrf_token": token}
    )
    assert "s3cret-Router-pw" in as_page.text
    revealed = events(instance, "record.revealed")
    assert len(revealed) == 2
    assert revealed[0].actor_name == "alice"


def test_copy_is_audited_and_falls_back_without_script(
    alice: TestClient, sample: Sample, instance: Instance
) -> None:
    """Copy returns the value to the page's script (record.copied audited with
    the field); without script it shows the value ready to select."""
    token = csrf_of(alice.get(f"/records/{sample.record_id}").text)
    response = alice.post(
        f"/records/{sample.record_id}/copy",
        data={"field": "password"},
        headers={"Accept": "application/json", "X-CSRF-Token": token},
    )
    assert response.json() == {"value": "s3cret-Router-pw"}
    page = alice.post(
        f"/records/{sample.record_id}/copy",
        data={"csrf_token": token, "field": "notes"},
    )
    assert 'value="behind the rack"' in page.text
    copied = events(instance, "record.copied")
    assert [e.details["field"] for e in copied] == ["password", "notes"]


def test_record_shows_the_current_totp_code(alice: TestClient, sample: Sample) -> None:
    """The record page and its refresh endpoint show the RFC 6238 code of the
    record's OTP secret with the seconds left."""
    expected = Totp80("JBSWY3DPEHPK3PXP")
    page = alice.get(f"/records/{sample.record_id}").text
    shown = re.search(r'id="otp-code">(\d{3}) (\d{3})<', page)
    assert shown is not None
    assert expected.verify(shown.group(1) + shown.group(2), valid_window=1)
    refreshed = alice.get(f"/records/{sample.record_id}/otp").json()
    assert expected.verify(refreshed["code"], valid_window=1)
    assert 1 <= refreshed["remaining"] <= 30


@pytest.mark.parametrize(
    ("raw", "digits", "period"),
    [
        ("JBSWY3DPEHPK3PXP", 6, 30),
        ("jbsw y3dp ehpk 3pxp", 6, 30),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=y", 6, 30),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=8&period=60", 8, 60),
    ],
)
def test_record_otp_secrets_give_rfc6238_codes(
    raw: str, digits: int, period: int
) -> None:
    """Base32 (80-bit too, with spaces or lower case) and otpauth:// links give
    the code pyotp computes for the same moment, with the link's digits and period."""
    now = 1_700_000_000
    result = otp.current(raw, now=now)
    assert result is not None
    code, remaining, shown_period = result
    expected = Totp80("JBSWY3DPEHPK3PXP", digits=digits, interval=period)
    assert code == expected.at(now)
    assert shown_period == period
    assert remaining == period - now % period


@pytest.mark.parametrize(
    "raw", ["not base32!", "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP", "AAAA", ""]
)
def test_unusable_otp_secrets_give_no_code(raw: str) -> None:
    """Text that is not a usable TOTP secret yields no code (and fails check)."""
    assert otp.current(raw) is None
    with pytest.raises(ValueError):
        otp.check(raw)


# (field, value, message fragment shown next to that field)
RECORD_FORM_ERRORS = [
    ("title", "", "Enter the title."),
    ("title", "t" * 256, "the limit is 255"),
    ("username", "u" * 256, "the limit is 255"),
    ("url", "javascript://alert(1)", "must start with http://"),
    ("otp_secret", "not-base-32!", "must be base32"),
    ("expires_at", "31/12/2030", "must be a date like 2030-12-31"),
    ("field_value_0", "a value without a name", ""),
    ("description", "d" * 256, "the limit is 255"),
    ("host_name", "h" * 256, "the limit is 255"),
]


def test_record_form_shows_each_problem_next_to_its_field(
    alice: TestClient, admin: TestClient, instance: Instance, sample: Sample
) -> None:
    """Every invalid field comes back (422) with its message beside it, the
    other values kept, and nothing stored."""
    with instance.db.session() as session:
        plist = vault.get_list(session, sample.shared_id)
        alice_user = accounts.find_user(session, "alice")
        vault.grant(session, cli_operator(), plist, Level.MODIFY, user=alice_user)
    url = f"/lists/{sample.shared_id}/records/new"
    token = csrf_of(alice.get(url).text)
    for field, value, message in RECORD_FORM_ERRORS:
        data = {"csrf_token": token, "title": "Kept title", field: value}
        response = alice.post(url, data=data)
        assert response.status_code == 422, field
        shown = field_error(
            response.text, "field_name_0" if field == "field_value_0" else field
        )
        assert message in shown and shown, (field, shown)
        if field != "title":
            assert 'value="Kept title"' in response.text
    with instance.db.session() as session:
        assert len(vault.records_in(session, cli_operator(), plist)) == 1


def test_add_edit_and_delete_a_record(
    admin: TestClient, instance: Instance, sample: Sample
) -> None:
    """A list admin adds a record with a generic secret field, edits it (the
    form holds the secrets, so opening it is audited as a reveal) and deletes it."""
    with instance.db.session() as session:
        vault.grant(
            session,
            cli_operator(),
            vault.get_list(session, sample.shared_id),
            Level.ADMIN,
            user=accounts.find_user(session, "admin"),
        )
    url = f"/lists/{sample.shared_id}/records/new"
    token = csrf_of(admin.get(url).text)
    created = admin.post(
        url,
        data={
            "csrf_token": token,
            "title": "Mail",
            "password": "pw-1",
            "expires_at": "2031-01-31",
            "field_name_0": "PIN",
            "field_value_0": "4321",
            "field_secret_0": "on",
        },
        follow_redirects=False,
    )
    record_id = created.headers["location"].rsplit("/", 1)[1]
    shown = admin.get(f"/records/{record_id}").text
    assert "Record &#39;Mail&#39; added." in shown
    assert "4321" not in shown and "2031-01-31" in shown

    before = len(events(instance, "record.revealed"))
    form = admin.get(f"/records/{record_id}/edit").text
    assert 'value="pw-1"' in form and 'value="4321"' in form
    assert len(events(instance, "record.revealed")) == before + 1
    admin.post(
        f"/records/{record_id}/edit",
        data={"csrf_token": token, "title": "Mail 2", "password": "pw-2"},
    )
    with instance.db.session() as session:
        record = vault.get_record(session, record_id)
        view = vault.open_record(session, instance.cipher, record)
        assert (view.title, view.password, view.fields) == ("Mail 2", "pw-2", [])

    assert "cannot be undone" in admin.get(f"/records/{record_id}/delete").text
    asked = admin.post(f"/records/{record_id}/delete", data={"csrf_token": token})
    assert "cannot be undone" in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    gone = admin.post(
        f"/records/{record_id}/delete",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=False,
    )
    assert gone.headers["location"] == f"/lists/{sample.shared_id}"
    assert admin.get(f"/records/{record_id}").status_code == 404


def test_editing_keeps_every_generic_field(
    admin: TestClient, instance: Instance, sample: Sample
) -> None:
    """A record with many generic fields (an import makes such) keeps every
    one of them when its edit form is saved unchanged."""
    op = cli_operator()
    with instance.db.session() as session:
        plist = vault.get_list(session, sample.shared_id)
        vault.grant(
            session, op, plist, Level.MODIFY, user=accounts.find_user(session, "admin")
        )
        fields = [vault.GenericField(f"F{i}", f"value {i}") for i in range(30)]
        record = vault.create_record(
            session,
            op,
            instance.cipher,
            plist,
            vault.RecordInput(title="Imported", fields=fields),
        )
    form = admin.get(f"/records/{record.id}/edit").text
    sent = dict(
        re.findall(r'name="(field_(?:name|value)_\d+)"[^>]*value="([^"]*)"', form)
    )
    assert sent["field_name_29"] == "F29"
    sent.update({"csrf_token": csrf_of(form), "title": "Imported"})
    saved = admin.post(f"/records/{record.id}/edit", data=sent, follow_redirects=False)
    assert saved.status_code == 303
    with instance.db.session() as session:
        view = vault.open_record(
            session, instance.cipher, vault.get_record(session, record.id)
        )
    assert [(f.name, f.value) for f in view.fields] == [
        (f.name, f.value) for f in fields
    ]


def test_view_only_user_cannot_change_records(
    alice: TestClient, sample: Sample, instance: Instance
) -> None:
    """View permission shows no Edit button, and the edit form is a 403."""
    page = alice.get(f"/records/{sample.record_id}").text
    assert f'href="/records/{sample.record_id}/edit"' not in page
    assert alice.get(f"/records/{sample.record_id}/edit").status_code == 403
    assert events(instance, "web.access_denied")[-1].record_id == sample.record_id


@pytest.mark.parametrize(
    ("recipe", "alphabet"),
    [
        (generator.Recipe(8, ("digits",)), set(string.digits)),
        (generator.Recipe(40, ("lower", "upper")), set(string.ascii_letters)),
        (
            generator.Recipe(128, ("lower", "upper", "digits", "symbols"), True),
            set(string.ascii_letters + string.digits + generator.SYMBOLS)
            - generator.AMBIGUOUS,
        ),
    ],
)
def test_generator_honours_length_and_classes(
    recipe: generator.Recipe, alphabet: set[str]
) -> None:
    """Passwords have the asked length, only chosen characters, one of each class."""
    password = generator.generate(recipe)
    assert len(password) == recipe.length
    assert set(password) <= alphabet
    for name in recipe.classes:
        assert set(password) & set(generator.CLASSES[name][1])


@pytest.mark.parametrize(
    ("length", "classes", "message"),
    [
        (7, ("lower",), "from 8 to 128"),
        (129, ("lower",), "from 8 to 128"),
        (20, (), "at least one"),
    ],
)
def test_generator_refuses_impossible_recipes(
    length: int, classes: tuple[str, ...], message: str
) -> None:
    """Out-of-range lengths and no character class raise ValueError."""
    with pytest.raises(ValueError, match=message):
        generator.generate(generator.Recipe(length, classes))


def test_generator_page_and_json(admin: TestClient) -> None:
    """The page generates with the chosen options and shows field messages for
    bad ones; the JSON endpoint serves the record form's Generate button."""
    page = admin.get("/generator", params={"length": "12", "classes": ["digits"]})
    value = re.search(r'id="generated" type="text" readonly value="([^"]+)"', page.text)
    assert value is not None and len(value.group(1)) == 12 and value.group(1).isdigit()
    bad = admin.get("/generator", params={"length": "5"})
    assert bad.status_code == 422
    assert field_error(bad.text, "length") == "The length must be from 8 to 128."
    data = admin.get(
        "/generator.json", params={"length": "30", "classes": ["upper"]}
    ).json()
    assert len(data["password"]) == 30 and data["password"].isupper()
    assert json.loads(admin.get("/generator.json?length=x").text)["errors"]["length"]
