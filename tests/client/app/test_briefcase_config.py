"""Briefcase accepts the phone app's configuration in pyproject.toml.

Runs tests/client/app/briefcase_config.py in its own interpreter, as the
`briefcase` command would run: Briefcase's own parsing and validation of
`[tool.briefcase]` for Android, iOS, the desktops and `briefcase dev`,
without the network and without building anything.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.app.briefcase_config import REPO, TARGETS

pytestmark = pytest.mark.slow


def _check(pyproject: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.client.app.briefcase_config", str(pyproject)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_briefcase_accepts_the_configuration_for_every_target() -> None:
    """Each target's line says accepted, naming the app, version and bundle."""
    result = _check(REPO / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines == [
        line
        for line in lines
        if "configuration accepted: strongroom_mobile 0.1.0 "
        "(org.strongroom.strongroom-mobile," in line
    ]
    assert [line.split(":")[0] for line in lines] == [
        f"briefcase {' '.join(target)}" for target in TARGETS
    ]


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (
            ('bundle = "org.strongroom"', 'bundle = "org.strong room"'),
            "'org.strong room' is not a valid bundle identifier",
        ),
        (
            ('"src/strongroom_mobile"]', '"src/strongroom_mobil"]'),
            "does not include a package named 'strongroom_mobile'",
        ),
        (
            (
                'requires = ["toga-android>=0.5.7,<0.6"]',
                'requires = ["toga-android>=>1"]',
            ),
            "requirement 'toga-android>=>1' is not valid",
        ),
    ],
    ids=["bad-bundle", "launcher-not-in-sources", "bad-requirement"],
)
def test_a_broken_configuration_is_rejected(
    tmp_path: Path, breakage: tuple[str, str], message: str
) -> None:
    """A copy with one mistake fails the check with Briefcase's message."""
    good, bad = breakage
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert text.count(good) == 1
    (tmp_path / "pyproject.toml").write_text(text.replace(good, bad), encoding="utf-8")
    (tmp_path / "src").symlink_to(REPO / "src")
    result = _check(tmp_path / "pyproject.toml")
    assert result.returncode == 1
    assert "REJECTED" in result.stdout
    assert message in result.stdout
