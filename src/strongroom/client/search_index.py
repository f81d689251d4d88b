"""The sealed search index: the text `search` looks at, for every record, in one blob.

Search looks at a record's title, username, description and URL, and at the
path of its list. Opening 10,000 summaries one by one (a decryption and a JSON
parse each) takes several times the 50 ms a search may take, so the first
search after an unlock would be slow. This index keeps that text for every
record in a single blob sealed under the cache key: a search opens one blob,
then only the records it found.

The index is a row of the `sealed` table, rewritten in the transaction that
writes the records (`sync.apply_reply`), so it always matches them. List paths
are not in it: they are read from the lists at search time, so a list moved to
another folder needs no rewrite. A cache made before the index existed simply
has no row; search then opens every summary, and the next sync writes one.
"""

import sqlite3

from strongroom.client.cache import CacheStore, damaged
from strongroom.client.models import RecordSummary

INDEX_ROW = "search-index"

Entry = tuple[str, str]
"""(list id, the record's searchable text, case-folded)."""


def entry_of(summary: RecordSummary) -> Entry:
    """What the index holds for one record."""
    text = "\n".join(
        (summary.title, summary.username, summary.description, summary.url)
    )
    return summary.list_id, text.casefold()


def read(store: CacheStore, key: bytes) -> dict[str, Entry] | None:
    """The index by record id, or None when this cache has none yet."""
    blob = store.sealed_blob(INDEX_ROW)
    if blob is None:
        return None
    rows = store.open_json(key, blob, store.aad("sealed", INDEX_ROW))
    try:
        return {str(rid): (str(lid), str(text)) for rid, lid, text in rows}
    except (TypeError, ValueError) as exc:
        raise damaged(store.path, "its search index is unreadable") from exc


def update(
    store: CacheStore,
    conn: sqlite3.Connection,
    key: bytes,
    *,
    full: bool,
    removed_ids: list[str],
    upserted: list[RecordSummary],
) -> None:
    """Bring the index in step with a sync's writes, inside the caller's transaction.

    Call it after the records were written: a cache without an index is
    indexed from the records it now holds.
    """
    entries = {} if full else read(store, key)
    if entries is None:
        entries = _from_records(store, key)
    else:
        for record_id in removed_ids:
            entries.pop(record_id, None)
        entries.update((s.id, entry_of(s)) for s in upserted)
    rows = [[rid, lid, text] for rid, (lid, text) in entries.items()]
    conn.execute(
        "INSERT INTO sealed (name, blob) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET blob = excluded.blob",
        (INDEX_ROW, store.seal_json(key, rows, store.aad("sealed", INDEX_ROW))),
    )


def _from_records(store: CacheStore, key: bytes) -> dict[str, Entry]:
    entries = {}
    for record_id, blob in store.summary_rows():
        data = store.open_json(key, blob, store.aad("records", record_id, "summary"))
        entries[record_id] = entry_of(RecordSummary.from_json(data))
    return entries
