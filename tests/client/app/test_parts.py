"""The app's small parts: preferences on disk, the stand-in widgets, URL checks."""

import datetime
from pathlib import Path

import pytest

from strongroom.client.app import kit, prefs
from strongroom.client.app.screens.record import openable
from strongroom.client.app.screens.sync import describe_span
from strongroom.client.app.theme import DARK, LIGHT, palette_for


def test_preferences_survive_a_restart_and_a_damaged_file(tmp_path: Path) -> None:
    """Saved choices load again; a damaged file gives the defaults, not a crash."""
    prefs.save(tmp_path, prefs.Preferences(theme="dark", auto_lock_minutes=15))
    assert prefs.load(tmp_path) == prefs.Preferences("dark", 15)
    (tmp_path / prefs.FILE_NAME).write_text("{not json", encoding="utf-8")
    assert prefs.load(tmp_path) == prefs.Preferences()
    (tmp_path / prefs.FILE_NAME).write_text('{"theme": "neon", "auto_lock_minutes": 7}')
    assert prefs.load(tmp_path) == prefs.Preferences("system", 5)


@pytest.mark.parametrize(
    ("choice", "system_dark", "expected"),
    [
        ("light", True, LIGHT),
        ("dark", False, DARK),
        ("system", True, DARK),
        ("system", False, LIGHT),
        ("system", None, LIGHT),
    ],
)
def test_the_theme_follows_the_choice_or_the_system(
    choice: str, system_dark: bool | None, expected: object
) -> None:
    """Light and dark are as chosen; system follows dark mode, light when unknown."""
    assert palette_for(choice, system_dark) is expected


@pytest.mark.parametrize(
    ("url", "opens"),
    [
        ("https://bank.example/login", True),
        ("HTTP://intranet.example", True),
        ("javascript:alert(1)", False),
        ("file:///etc/passwd", False),
        ("intent://scan/#Intent;scheme=zxing;end", False),
        ("bank.example", False),
        ("", False),
    ],
)
def test_only_web_addresses_open(url: str, opens: bool) -> None:
    """Open is offered for http(s) addresses with a host, nothing else."""
    assert openable(url) is opens


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (30, "less than a minute"),
        (60, "1 minute"),
        (3600 * 5 + 120, "5 hours 2 minutes"),
        (86400 * 6 + 3600 * 23, "6 days 23 hours"),
        (86400, "1 day"),
    ],
)
def test_durations_read_as_people_say_them(seconds: int, words: str) -> None:
    """Time to live and "ago" read as words."""
    assert describe_span(datetime.timedelta(seconds=seconds)) == words


def test_a_choice_without_a_selection_widget_is_a_row_of_buttons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the backend has no Selection, buttons marked ● and ○ stand in."""
    monkeypatch.setattr(kit, "backend_has", lambda name: name != "Selection")
    chosen: list[str] = []
    choice = kit.Choice([("a", "Apple"), ("b", "Banana")], "a", chosen.append)
    assert [b.text for b in choice.buttons.values()] == ["● Apple", "○ Banana"]
    choice.buttons["b"]._impl.simulate_press()
    assert chosen == ["b"]
    assert [b.text for b in choice.buttons.values()] == ["○ Apple", "● Banana"]


@pytest.mark.parametrize(
    ("value", "width", "shown"),
    [
        ("short", 40, "short"),
        ("one two three four", 9, "one two\nthree\nfour"),
        ("title\nthe detail goes on", 10, "title\nthe detail\ngoes on"),
        ("URL: https://bank.example/login", 12, "URL: https:/\n/bank.exampl\ne/login"),
        ("", 40, ""),
    ],
)
def test_text_is_wrapped_to_the_width(value: str, width: int, shown: str) -> None:
    """Toga labels never wrap: the app breaks lines itself, inside a long word too."""
    assert kit.wrap(value, width) == shown
