"""The screen captures a person looks at: every screen drawn in a terminal.

Runs the capture of scripts/capture-app-screens (tests/client/app/capture.py:
the app on Toga's Textual backend in a tmux pane, against a real App Server on
127.0.0.1) into test-artifacts/app-screens/, then checks that each screen was
saved as text and as a picture and that its text shows what a person checks
there. Outside CI it skips with the reason when tmux is missing; with
CI=true it fails instead (scripts/install-test-tools installs tmux).
"""

import shutil

import pytest

from tests.client.app.capture import REPO, capture
from tests.client.app.seed import BANK_NOTES, BANK_PASSWORD
from tests.conftest import IN_CI

pytestmark = pytest.mark.slow

OUT = REPO / "test-artifacts" / "app-screens"
MASK = "••••••••"

# Each capture, in the order the walk-through makes them, with the words a
# person checks on it (wrapped lines are joined) and words that must be absent.
SCREENS: list[tuple[str, list[str], list[str]]] = [
    (
        "01-pair",
        ["Pair this phone", "Choose a picture", "Or paste the code's text:"],
        ["Server:"],
    ),
    (
        "02-pair-code-read",
        ["Pair this phone", "Server: https://127.0.0.1:", "alice", "Master password"],
        ["Choose a picture"],
    ),
    (
        "03-pair-in-progress",
        ["Pairing… protecting this phone's copy with your master password"],
        [],
    ),
    (
        "04-lists",
        [
            "Your lists",
            "This phone is paired",
            "Last sync: just now · offline copy valid for 6 days 23 hours",
            "Sync now",
            "▸ Finance (1) ▁",
            "▸ IT (1) ▁",
            "▸ Not in a folder (1) ▁",
        ],
        ["Bank login"],
    ),
    (
        "05-lists-folder-open",
        [
            "▾ Finance (1)",
            "▾ Banking (2)",
            "Bank and card logins",
            "Bank login — alice@bank",
            "Credit card — 4111-xxxx",
        ],
        [],
    ),
    (
        "06-record",
        [
            "Bank login",
            "In Finance/Banking",
            "Username: alice@bank",
            f"Password: {MASK}",
            "Reveal",
            "One-time code:",
            "s left",
            "URL: https://bank.exampl",
            f"PIN: {MASK}",
            f"Notes: {MASK}",
        ],
        [BANK_PASSWORD, "4711", BANK_NOTES],
    ),
    (
        "07-record-revealed",
        [BANK_PASSWORD, "Hide", "PIN: 4711", f"Notes: {BANK_NOTES}"],
        [f"Password: {MASK}", "Reveal"],
    ),
    (
        "08-record-copy-without-clipboard",
        ["Cannot copy on this device", "Tap Reveal and read it instead."],
        [],
    ),
    (
        "09-lists-search",
        ["primary", "1 entry match “primary”", "db1 — root — IT/Servers"],
        ["Bank login"],
    ),
    (
        "10-sync",
        [
            "Server: https://127.0.0.1:",
            "Mobile username: alice",
            "Last sync: just now",
            "Offline copy: 6 days 23 hours left (your organisation allows 7 days)",
            "Waiting to upload: 0 audit events",
            "Biometric unlock: off",
        ],
        [],
    ),
    (
        "11-sync-done",
        ["Up to date", "4 entries are on this phone"],
        [],
    ),
    (
        "12-settings",
        ["Biometric unlock", "Lock automatically after", "● 5 minutes", "● System"],
        ["Yes, log out"],
    ),
    (
        "13-settings-log-out-asks",
        [
            "Log out unpairs this phone and erases its offline copy.",
            "Yes, log out",
            "Cancel",
        ],
        [],
    ),
    (
        "14-unlock",
        ["Unlock Strongroom", "alice on https://127.0.0.1:", "Master password"],
        ["not right"],
    ),
    (
        "15-unlock-wrong-password",
        [
            "That master password is not right",
            "1 attempt left before this phone erases its offline copy.",
        ],
        [],
    ),
    (
        "16-error-pin-mismatch",
        [
            "This is not your organisation's server",
            "so Strongroom sent it nothing.",
            "Do not use this network",
        ],
        [],
    ),
    (
        "17-error-wiped",
        [
            "This phone was wiped",
            "ask your administrator for a new QR code and pair again.",
            "Pair this phone",
        ],
        [],
    ),
    (
        "18-error-stale-qr",
        [
            "This QR code is no longer valid",
            "Ask your administrator for a new QR code",
        ],
        [],
    ),
    (
        "19-error-locked-out",
        [
            "Locked out after too many wrong master passwords",
            "Try again in 15 minutes, or ask your administrator to unlock you.",
        ],
        [],
    ),
]


@pytest.fixture(scope="module")
def captured() -> None:
    """Run the capture once for this module's checks."""
    if shutil.which("tmux") is None:
        reason = "tmux is missing (run scripts/install-test-tools)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    capture(OUT)


def test_every_screen_is_captured_and_nothing_else(captured: None) -> None:
    """The folder holds exactly the expected screens, each as .txt, .ansi, .svg."""
    expected = sorted(
        f"{name}{suffix}"
        for name, _, _ in SCREENS
        for suffix in (".txt", ".ansi", ".svg")
    )
    assert sorted(path.name for path in OUT.iterdir()) == expected


@pytest.mark.parametrize(
    ("name", "shown", "hidden"), SCREENS, ids=[name for name, _, _ in SCREENS]
)
def test_the_capture_shows_what_a_person_checks(
    captured: None, name: str, shown: list[str], hidden: list[str]
) -> None:
    """The screen's text holds its words; the picture is an SVG of it."""
    text = (OUT / f"{name}.txt").read_text(encoding="utf-8")
    # Labels wrap at 40 characters: read them as one line, as a person does.
    words = " ".join(text.split())
    assert "Strongroom" in text.splitlines()[0]  # the window's title bar
    for expected in shown:
        assert expected in words, f"{name}: {expected!r} is not shown:\n{text}"
    for absent in hidden:
        assert absent not in words, f"{name}: {absent!r} is shown:\n{text}"
    svg = (OUT / f"{name}.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg")
    assert name.split("-", 1)[1] in svg  # its title
    assert "\x1b[" in (OUT / f"{name}.ansi").read_text(encoding="utf-8")
