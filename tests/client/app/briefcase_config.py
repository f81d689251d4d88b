"""Briefcase's own check of the `[tool.briefcase]` configuration, offline.

    python -m tests.client.app.briefcase_config [PYPROJECT]   (default: the repo's)

For each target the phone app is configured for, this does what the
`briefcase` command line does before any work: it picks the command class
for `briefcase create android` (and the others) by Briefcase's own argument
parser, parses its options, parses the pyproject.toml with Briefcase's
`parse_config` into Briefcase's validated app configuration (app name,
bundle identifier, version, licence, the `sources` list...), then runs
Briefcase's `finalize` for the app (environment manager, sources or external
package) and its `requires-python` check. What it leaves out is what needs
the network or another machine: verifying the host (iOS builds need macOS),
downloading tools (a JDK, the Android SDK) and installing requirements.

It also checks what Briefcase leaves to `create`: that every `sources` entry
is a Python package in the repository and every `requires` entry is a valid
requirement. It prints one line per target and exits 0 when all pass, or 1
with Briefcase's own message.
"""

import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from briefcase.cmdline import parse_cmdline
from briefcase.console import Console
from briefcase.exceptions import BriefcaseError
from packaging.requirements import InvalidRequirement, Requirement

REPO = Path(__file__).resolve().parents[3]

# The Briefcase command lines whose configuration is checked: the two phones,
# the desktop ones the configuration names, and `briefcase dev` (this host).
TARGETS: list[list[str]] = [
    ["create", "android"],
    ["create", "iOS"],
    ["create", "macOS"],
    ["create", "windows"],
    ["dev"],
]


class ConfigProblem(Exception):
    """The configuration fails a check Briefcase leaves to `create`."""


def check_target(argv: list[str], pyproject: Path, data_path: Path) -> str:
    """Briefcase's configuration checks for one command line; a summary line."""
    console = Console(input_enabled=False)
    command_class, extra = parse_cmdline(argv, console=console)

    class ConfigOnly(command_class):  # type: ignore[misc,valid-type]
        """The command without what needs the network or another host."""

        def verify_host(self) -> None:
            return

        def verify_tools(self) -> None:
            return

    command = ConfigOnly(
        console=console, base_path=pyproject.parent, data_path=data_path
    )
    _, overrides = command.parse_options(extra=extra)
    command.parse_config(pyproject, overrides=overrides)
    finalized = command.finalize(list(command.apps.values()))
    for app in finalized.values():
        command.verify_required_python(app)
        _check_sources(app, pyproject.parent)
        _check_requires(app)
    names = ", ".join(
        f"{app.app_name} {app.version} ({app.bundle_identifier}, "
        f"{len(app.requires or [])} requires)"
        for app in finalized.values()
    )
    return f"briefcase {' '.join(argv)}: configuration accepted: {names}"


def _check_sources(app: Any, base: Path) -> None:
    for source in app.sources or []:
        package = base / source
        if not (package / "__init__.py").is_file():
            raise ConfigProblem(
                f"{app.app_name}: source {source!r} is not a Python package"
            )


def _check_requires(app: Any) -> None:
    for requirement in app.requires or []:
        try:
            Requirement(requirement)
        except InvalidRequirement as exc:
            raise ConfigProblem(
                f"{app.app_name}: requirement {requirement!r} is not valid: {exc}"
            ) from exc


def main(argv: list[str]) -> int:
    """Check argv[0] (or the repository's pyproject.toml) for every target."""
    pyproject = Path(argv[0]).resolve() if argv else REPO / "pyproject.toml"
    failed = False
    with tempfile.TemporaryDirectory(prefix="strongroom-briefcase-") as data:
        for target in TARGETS:
            try:
                # Briefcase's console writes its own output; keep ours plain.
                with contextlib.redirect_stdout(sys.stderr):
                    line = check_target(target, pyproject, Path(data))
            except (BriefcaseError, ConfigProblem) as exc:
                failed = True
                print(f"briefcase {' '.join(target)}: REJECTED: {exc}")
            else:
                print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
