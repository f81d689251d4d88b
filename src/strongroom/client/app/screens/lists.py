"""The lists: folders that open and close, their lists and records, and search.

Folders, lists and records are ordered alphabetically (ignoring case). Typing
in the search box shows instead the records whose title, username,
description, URL or folder path contain the text (the core's search). Rows
are drawn a page at a time; scrolling to the end, or "Show more", draws the
next page, so ten thousand records never become ten thousand widgets at once.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import toga

from strongroom.client.app import kit
from strongroom.client.app.screens.base import Screen
from strongroom.client.app.screens.sync import sync_line
from strongroom.client.errors import CacheExpired
from strongroom.client.models import ListInfo, RecordSummary

log = logging.getLogger(__name__)

NO_FOLDER = "Not in a folder"


@dataclass
class Snapshot:
    """What the lists screen shows, read from the vault in one go."""

    lists: list[ListInfo] = field(default_factory=list)
    records: dict[str, list[RecordSummary]] = field(default_factory=dict)
    expired: CacheExpired | None = None

    def folders(self) -> list[tuple[str, list[ListInfo]]]:
        """(folder path, its lists) alphabetically; lists outside folders last."""
        grouped: dict[str, list[ListInfo]] = defaultdict(list)
        for info in self.lists:
            grouped[info.folder].append(info)
        named = sorted((f for f in grouped if f), key=str.casefold)
        order = named + ([""] if "" in grouped else [])
        return [
            (folder, sorted(grouped[folder], key=lambda i: i.name.casefold()))
            for folder in order
        ]


class ListsScreen(Screen):
    """Browse and search the offline copy."""

    title = "Your lists"
    page_size = 60

    def build(self) -> toga.Widget:
        """The search box, the sync line and its buttons, then the rows."""
        self.snapshot = Snapshot()
        self.hits: list[RecordSummary] | None = None
        self.open_folders: set[str] = set()
        self.open_lists: set[str] = set()
        self.limit = self.page_size

        self.search = kit.text_input(placeholder="Search", value="")
        self.search.on_change = self._search_changed
        self.sync_label = kit.tag(kit.text(""), "muted")
        self.sync_button = self.button("Sync now", self.on_sync)
        self.status_button = self.button("Sync status", self.app.show_sync)
        self.settings_button = self.button("Settings", self.app.show_settings)
        self.lock_button = self.button("Lock", self.app.lock_now)
        self.rows = kit.column(gap=2)
        self.more_button = self.button("Show more", self.on_more, waits=False)
        kit.set_visible(self.more_button, False)
        self.toolbar = kit.column(
            self.search,
            self.sync_label,
            kit.row(
                self.sync_button,
                self.status_button,
                self.settings_button,
                self.lock_button,
            ),
        )
        return kit.column(self.toolbar, self.rows, self.more_button, gap=8)

    def shown(self) -> None:
        """Refresh the sync line; the app loads the rows with `reload`."""
        self.update_sync_line()

    def update_sync_line(self) -> None:
        """Show when the last sync was and how long the copy stays valid."""
        self.sync_label.text = sync_line(self.app.status, self.app.now())

    # --- data ------------------------------------------------------------

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Show freshly read lists and records (or why there are none)."""
        self.snapshot = snapshot
        if snapshot.expired is not None:
            self.app.show_error(self, snapshot.expired)
        elif self.notice is not None and self.notice.title.startswith("Your offline"):
            self.show_notice(None)
        self.update_sync_line()
        self.render()

    def scrolled(self, position: int, end: int) -> None:
        """Near the end of what is drawn: draw the next page if there is one."""
        if position >= end - 40 and self.more_button.style.display != "none":
            self.on_more()

    def on_more(self) -> None:
        """Draw another page of rows."""
        self.limit += self.page_size
        self.render()

    # --- search ----------------------------------------------------------

    def _search_changed(self, widget: toga.TextInput, **_: object) -> None:
        self.app.touch()
        text = widget.value.strip()
        self.limit = self.page_size
        if not text:
            self.hits = None
            self.render()
            return
        self.app.spawn(self._search(text), name="search")

    async def _search(self, text: str) -> None:
        vault = self.app.vault
        if vault is None or self.snapshot.expired is not None:
            return
        try:
            hits = await self.app.worker.call(vault.search, text)
        except Exception as exc:  # every failure becomes a notice
            self.app.show_error(self, exc)
            return
        # A slower, older search must not overwrite the newer one's results.
        if self.search.value.strip() == text:
            self.hits = hits
            self.render()

    # --- drawing ---------------------------------------------------------

    def render(self) -> None:
        """Draw the rows: search hits, or the folder tree as opened."""
        rows = self._hit_rows() if self.hits is not None else self._tree_rows()
        shown = rows[: self.limit]
        self.rows.clear()
        self.rows.add(*shown)
        kit.set_visible(self.more_button, len(rows) > len(shown))
        self.app.repaint(self)

    def _hit_rows(self) -> list[toga.Widget]:
        hits = self.hits or []
        count = len(hits)
        rows: list[toga.Widget] = [
            kit.tag(
                kit.text(
                    f"{count} entr{'y' if count == 1 else 'ies'} match "
                    f"“{self.search.value.strip()}”"
                ),
                "muted",
            )
        ]
        paths = {info.id: info.path for info in self.snapshot.lists}
        for summary in hits:
            where = paths.get(summary.list_id, "")
            rows.append(self._record_row(summary, detail=where))
        return rows

    def _tree_rows(self) -> list[toga.Widget]:
        if self.snapshot.expired is not None:
            return [kit.text("Nothing is shown until a sync succeeds.")]
        if not self.snapshot.lists:
            return [
                kit.text(
                    "No lists are shared with this phone yet. Ask your "
                    "administrator to turn on Mobile Access for your lists."
                )
            ]
        rows: list[toga.Widget] = []
        for folder, lists in self.snapshot.folders():
            is_open = folder in self.open_folders
            name = folder or NO_FOLDER
            label = f"{'▾' if is_open else '▸'} {name} ({len(lists)})"
            rows.append(self.button(label, self._toggle_folder(folder), waits=False))
            if is_open:
                for info in lists:
                    rows.extend(self._list_rows(info))
        return rows

    def _list_rows(self, info: ListInfo) -> list[toga.Widget]:
        records = self.snapshot.records.get(info.id, [])
        is_open = info.id in self.open_lists
        label = f"    {'▾' if is_open else '▸'} {info.name} ({len(records)})"
        rows: list[toga.Widget] = [
            self.button(label, self._toggle_list(info.id), waits=False)
        ]
        if is_open:
            if info.description:
                rows.append(kit.tag(kit.text(f"        {info.description}"), "muted"))
            rows.extend(self._record_row(s, indent="        ") for s in records)
        return rows

    def _record_row(
        self, summary: RecordSummary, *, indent: str = "", detail: str = ""
    ) -> toga.Widget:
        parts = [summary.title or "(untitled)"]
        if summary.username:
            parts.append(summary.username)
        if detail:
            parts.append(detail)
        return self.button(
            indent + " — ".join(parts), self._open_record(summary.id), waits=False
        )

    def _toggle_folder(self, folder: str) -> Callable[[], None]:
        def toggle() -> None:
            self.open_folders ^= {folder}
            self.render()

        return toggle

    def _toggle_list(self, list_id: str) -> Callable[[], None]:
        def toggle() -> None:
            self.open_lists ^= {list_id}
            self.render()

        return toggle

    def _open_record(self, record_id: str) -> Callable[[], None]:
        def open_record() -> None:
            self.app.show_record(record_id)

        return open_record

    # --- actions ---------------------------------------------------------

    def on_sync(self) -> None:
        """Sync now."""
        self.run("Syncing with your organisation's server…", self.app.sync(self))
