"""How the UI reads a submitted form: UTF-8, strictly, whoever sends it."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from strongroom.server.core.instance import Instance
from strongroom.server.vault.models import Folder
from tests.server.web.conftest import csrf_of

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _post_folder(admin: TestClient, name: bytes) -> tuple[int, str]:
    token = csrf_of(admin.get("/vault").text).encode()
    response = admin.post(
        "/vault/folders",
        content=b"csrf_token=" + token + b"&folder_name=" + name,
        headers=FORM,
    )
    return response.status_code, response.text


def test_raw_utf8_in_a_form_is_stored_as_typed(
    admin: TestClient, instance: Instance
) -> None:
    """A script posting UTF-8 without percent-encoding it (`curl -d`) gets
    the name it sent, not Latin-1 mojibake ('BÃ¼ro')."""
    status, page = _post_folder(admin, "Büro".encode())
    assert status == 200
    assert "Folder &#39;Büro&#39; created." in page
    with instance.db.session() as session:
        assert list(session.scalars(select(Folder.name))) == ["Büro"]


@pytest.mark.parametrize(
    "name",
    [b"B\xfcro", b"B%FCro", b"a%ED%A0%80b"],
    ids=["raw-latin1", "percent-latin1", "percent-surrogate"],
)
def test_a_form_that_is_not_utf8_is_refused_and_changes_nothing(
    admin: TestClient, instance: Instance, name: bytes
) -> None:
    """Bytes that are not UTF-8 get a 400 page saying so; no folder is made
    under a guessed name."""
    status, page = _post_folder(admin, name)
    assert status == 400
    assert "The form was not sent as UTF-8 text" in page
    assert "nothing was changed" in page
    with instance.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Folder)) == 0


def test_a_form_with_too_many_fields_is_a_400_page(admin: TestClient) -> None:
    """Over 1000 fields is refused with the limit named, as before."""
    token = csrf_of(admin.get("/vault").text).encode()
    body = b"csrf_token=" + token + b"".join(b"&f%d=1" % i for i in range(1001))
    response = admin.post("/vault/folders", content=body, headers=FORM)
    assert response.status_code == 400
    assert "Maximum number of fields is 1000" in response.text
