"""What the troubleshooter found: a report of checks, each with its evidence.

A report is shown by the CLI (`strongroom doctor ...`), rendered on the web
admin page, and printed as JSON with `--json`. The JSON document is stable:

    {
      "format": 1,                      # bumped only if a key changes meaning
      "subject": "mobile:alice",        # or "server"
      "ok": true,                       # no check failed
      "counts": {"pass": 12, "warn": 1, "fail": 0, "skipped": 0},
      "checks": [
        {
          "id": "dns",                  # stable identifier, see checks.py
          "title": "DNS answer for vault.example.com",
          "status": "pass",             # "pass" | "warn" | "fail" | "skipped"
          "evidence": {...},            # JSON values only: what the check saw
          "fix": null                   # one sentence for anything not passing
        },
        ...
      ]
    }

Checks appear in the order a phone depends on them. Evidence keys differ per
check and are listed beside each check in `checks.py`; times are ISO 8601 in
UTC, durations are milliseconds with an `_ms` suffix.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

REPORT_FORMAT = 1


class Status(StrEnum):
    """The verdict of one check."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass
class Check:
    """One step of the path a phone (or the server) depends on."""

    id: str
    title: str
    status: Status
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The check as a JSON-friendly dictionary."""
        return {
            "id": self.id,
            "title": self.title,
            "status": str(self.status),
            "evidence": self.evidence,
            "fix": self.fix,
        }


@dataclass
class Report:
    """Every check run for one subject, in dependency order."""

    subject: str
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings and skips do not count)."""
        return all(check.status is not Status.FAIL for check in self.checks)

    def get(self, check_id: str) -> Check:
        """The check with this id; KeyError when the report has none."""
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def counts(self) -> dict[str, int]:
        """How many checks ended in each status."""
        return {
            str(status): sum(1 for check in self.checks if check.status is status)
            for status in Status
        }

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON document described in this module's docstring."""
        return {
            "format": REPORT_FORMAT,
            "subject": self.subject,
            "ok": self.ok,
            "counts": self.counts(),
            "checks": [check.to_dict() for check in self.checks],
        }
