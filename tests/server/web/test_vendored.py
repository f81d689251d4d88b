"""The CSS framework and htmx are vendored from their npm packages, unmodified."""

import hashlib
import re

from strongroom.server.web.templating import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"
# "pico: @picocss/pico 2.1.1 (npm), css/pico.min.css sha256=<hex>"
LINE = re.compile(r"^(\w+): (\S+) (\S+) \(npm\), (\S+) sha256=([0-9a-f]{64})$")


def test_vendored_files_match_their_packages() -> None:
    """Each file named in VERSIONS.txt is there, with the SHA-256 it has in
    the npm package, its licence beside it, and the pages link the same file."""
    entries = [
        LINE.match(line)
        for line in (VENDOR / "VERSIONS.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert entries and all(entries), "VERSIONS.txt has a line of another shape"
    for entry in entries:
        folder, _package, _version, in_package, digest = entry.groups()  # type: ignore[union-attr]
        shipped = VENDOR / folder / in_package.rsplit("/", 1)[1]
        assert hashlib.sha256(shipped.read_bytes()).hexdigest() == digest, shipped
        assert any(p.name.startswith("LICENSE") for p in (VENDOR / folder).iterdir())
    base = (STATIC_DIR.parent / "templates" / "base.html").read_text()
    assert "/static/vendor/pico/pico.min.css" in base
    assert "/static/vendor/htmx/htmx.min.js" in base
