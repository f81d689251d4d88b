"""The single entry point for imports: `read_file`.

It detects the format from the content (unless the caller names it), runs
that format's reader, then `bundle.finalize` (title fallbacks and server
limits), so the caller receives either a complete, valid bundle or one
`InterchangeError` and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from strongroom.server.interchange.bundle import ImportBundle, finalize
from strongroom.server.interchange.detect import detect_format, unsupported
from strongroom.server.interchange.formats import FORMATS
from strongroom.server.interchange.formats.bitwarden import read_bitwarden
from strongroom.server.interchange.formats.csv_generic import read_csv
from strongroom.server.interchange.formats.keepass import read_kdbx
from strongroom.server.interchange.formats.keepass_xml import read_keepass_xml
from strongroom.server.interchange.formats.passwordstate import read_passwordstate
from strongroom.server.interchange.formats.strongroom_json import (
    read_strongroom_json,
)

__all__ = ["FORMATS", "read_file"]

logger = logging.getLogger(__name__)

Reader = Callable[[Path, str | None, Path | None], ImportBundle]

_READERS: dict[str, Reader] = {
    "csv": lambda path, _password, _key: read_csv(path),
    "passwordstate": lambda path, _password, _key: read_passwordstate(path),
    "kdbx": lambda path, password, key: read_kdbx(
        path, password=password, key_file=key
    ),
    "keepass-xml": lambda path, _password, _key: read_keepass_xml(path),
    "bitwarden-json": lambda path, password, _key: read_bitwarden(
        path, password=password
    ),
    "strongroom-json": lambda path, _password, _key: read_strongroom_json(path),
}
_TAKES_PASSWORD = frozenset({"kdbx", "bitwarden-json"})


def read_file(
    path: Path,
    *,
    format: str | None = None,
    password: str | None = None,
    key_file: Path | None = None,
) -> ImportBundle:
    """Read an import file into a finalized `ImportBundle`.

    `format` is one of FORMATS, or None to detect it from the content.
    `password` opens a KeePass database or a password-protected Bitwarden
    export; `key_file` is a KeePass key file. Raises an `InterchangeError`
    subclass (never a library exception) when the file cannot be imported
    whole.
    """
    path = Path(path)
    name = format if format is not None else detect_format(path)
    reader = _READERS.get(name)
    if reader is None:
        raise unsupported(f"{name!r} is not a format name")
    bundle = reader(path, password, key_file)
    _warn_unused_credentials(bundle, name, password, key_file)
    finalize(bundle)
    logger.info(
        "interchange.read",
        extra={
            "import_format": name,
            "record_count": bundle.record_count(),
            "list_count": len(bundle.lists),
            "warning_count": len(bundle.warnings),
        },
    )
    return bundle


def _warn_unused_credentials(
    bundle: ImportBundle, name: str, password: str | None, key_file: Path | None
) -> None:
    # Saying so beats silence: someone who passed a password believes the
    # file is encrypted and may have picked the wrong file.
    if password is not None and name not in _TAKES_PASSWORD:
        bundle.warnings.append(f"a {name} file has no password; it was not used")
    if key_file is not None and name != "kdbx":
        bundle.warnings.append("only KeePass databases use a key file; it was not used")
