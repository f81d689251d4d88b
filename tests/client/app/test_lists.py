"""The lists screen: folders that open and close, A to Z, search, scrolling."""

import pytest

from strongroom.client.app.screens.lists import ListsScreen
from tests.client.app.conftest import Harness, PhoneServer, button_named, pair


@pytest.fixture
def unlocked(make_app, phone_server: PhoneServer) -> Harness:
    """A paired phone on its lists screen."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    return harness


def test_folders_open_and_close_showing_lists_and_records_alphabetically(
    unlocked: Harness,
) -> None:
    """Tapping a folder shows its lists, a list its description and records, A to Z."""
    harness = unlocked
    harness.press(button_named(harness, "Finance"))
    assert "[▾ Finance (1)]\n[    ▸ Banking (2)]\n[▸ IT (1)]" in harness.text()

    harness.press(button_named(harness, "Banking"))
    shown = harness.text()
    assert (
        "[    ▾ Banking (2)]\n"
        "        Bank and card logins\n"
        "[        Bank login — alice@bank]\n"
        "[        Credit card — 4111-xxxx]\n"
        "[▸ IT (1)]"
    ) in shown

    harness.press(button_named(harness, "Finance"))
    assert "Bank login" not in harness.text()
    assert "[▸ Finance (1)]\n[▸ IT (1)]\n[▸ Not in a folder (1)]" in harness.text()


def test_folders_lists_and_records_are_shown_a_to_z_whatever_their_case(
    make_app, phone_server: PhoneServer
) -> None:
    """Made in reverse order and mixed case, they are shown A to Z ignoring case."""
    # Made Z to A, with capitals where a case-sensitive sort would put them
    # first ("Mike" before "alpha", "Yak" before "apple").
    for path in (
        "zoo/Keys",
        "Sorting/zulu",
        "Sorting/Mike",
        "Sorting/alpha",
        "apps/CI",
    ):
        phone_server.add_list(path)
        phone_server.add_record(path, title=f"in {path}")
    for title in ("zebra", "Yak", "Banana", "apple"):
        phone_server.add_record("Sorting/Mike", title=title, username="u")
    harness: Harness = make_app()
    pair(harness, phone_server)
    assert (
        "[▸ apps (1)]\n"
        "[▸ Finance (1)]\n"
        "[▸ IT (1)]\n"
        "[▸ Sorting (3)]\n"
        "[▸ zoo (1)]\n"
        "[▸ Not in a folder (1)]"
    ) in harness.text()

    harness.press(button_named(harness, "Sorting"))
    assert (
        "[▾ Sorting (3)]\n"
        "[    ▸ alpha (1)]\n"
        "[    ▸ Mike (5)]\n"
        "[    ▸ zulu (1)]\n"
        "[▸ zoo (1)]"
    ) in harness.text()

    harness.press(button_named(harness, "Mike"))
    assert (
        "[    ▾ Mike (5)]\n"
        "[        apple — u]\n"
        "[        Banana — u]\n"
        "[        in Sorting/Mike]\n"
        "[        Yak — u]\n"
        "[        zebra — u]\n"
        "[    ▸ zulu (1)]"
    ) in harness.text()


# What a person types, and the rows they then see (title — username — list).
SEARCHES: list[tuple[str, list[str]]] = [
    ("primary", ["db1 — root — IT/Servers"]),  # description
    (
        "FINANCE",  # folder path, any case
        [
            "Bank login — alice@bank — Finance/Banking",
            "Credit card — 4111-xxxx — Finance/Banking",
        ],
    ),
    ("wi-fi", ["Office Wi-Fi — Shared"]),  # name
    ("servers", ["db1 — root — IT/Servers"]),  # the list's name in the path
    ("nothing-like-this", []),
]


def test_search_finds_by_name_description_and_folder_path(unlocked: Harness) -> None:
    """Typed text shows the records matching by name, description or folder path."""
    harness = unlocked
    for typed, expected in SEARCHES:
        harness.type(harness.screen.search, typed)
        shown = harness.text()
        count = len(expected)
        assert f"{count} entr{'y' if count == 1 else 'ies'} match “{typed}”" in shown
        rows = [
            line.strip("[]")
            for line in shown.splitlines()
            if line.startswith("[") and " — " in line
        ]
        assert rows == expected, typed

    harness.type(harness.screen.search, "")
    assert "[▸ Finance (1)]" in harness.text()


def test_scrolling_to_the_end_draws_the_next_page(
    make_app, phone_server: PhoneServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long list is drawn a page at a time; scrolling to the end draws more."""
    for number in range(11):
        phone_server.add_record("IT/Servers", title=f"web{number:02}", username="ops")
    monkeypatch.setattr(ListsScreen, "page_size", 8)
    harness: Harness = make_app()
    pair(harness, phone_server)
    screen = harness.screen
    harness.press(button_named(harness, "IT"))
    harness.press(button_named(harness, "Servers"))
    rows = [w.text for w in screen.rows.children]
    assert len(rows) == 8
    assert "[Show more]" in harness.text()

    scroller = screen.scroller
    scroller.vertical_position = scroller.max_vertical_position
    harness.settle()
    # Three folders, the Servers list, and its twelve records: all drawn now.
    assert len(screen.rows.children) == 16
    assert "[        web10 — ops]\n[▸ Not in a folder (1)]" in harness.text()
    assert "[Show more]" not in harness.text()
