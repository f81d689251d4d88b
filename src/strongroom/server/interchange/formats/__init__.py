"""One reader module per import format; each returns an `ImportBundle`.

`FORMATS` lists the names callers use to pick a format (``--format``).
"""

FORMATS: tuple[str, ...] = (
    "csv",
    "passwordstate",
    "kdbx",
    "keepass-xml",
    "bitwarden-json",
    "strongroom-json",
)
