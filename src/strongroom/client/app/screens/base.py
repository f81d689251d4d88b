"""What every screen has: a title, a notice area, a busy indicator and a body.

Screens build their widgets once, in `build()`. Buttons made with
`self.button()` count as activity for auto-lock and are disabled while the
screen is busy, so a second tap cannot start the same work twice.
"""

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import toga

from strongroom.client.app import kit
from strongroom.client.app.messages import Notice

if TYPE_CHECKING:
    from strongroom.client.app.app import StrongroomApp


class Screen:
    """One screen of the app."""

    title = ""

    def __init__(self, app: "StrongroomApp") -> None:
        self.app = app
        self.actions: list[toga.Widget] = []
        self.notice: Notice | None = None
        self.notice_title = kit.text("", font_weight="bold")
        self.notice_text = kit.text("")
        self.notice_box = kit.column(self.notice_title, self.notice_text, gap=2)
        self.notice_box.style.margin = 6
        kit.set_visible(self.notice_box, False)
        self.busy = kit.Busy()
        self.heading = kit.heading(self.title)
        self.body = self.build()
        self.scroller = kit.scroll(self.body)
        if isinstance(self.scroller, toga.ScrollContainer):
            self.scroller.on_scroll = self._scrolled
        self.root = kit.column(
            self.heading,
            self.notice_box,
            self.busy.widget,
            self.scroller,
            gap=8,
            margin=10,
        )

    # --- to override -----------------------------------------------------

    def build(self) -> toga.Widget:
        """Make the screen's body."""
        raise NotImplementedError

    def shown(self) -> None:
        """Called each time the screen becomes the visible one."""

    def hidden(self) -> None:
        """Called when another screen replaces this one (stop timers here)."""

    def scrolled(self, position: int, end: int) -> None:
        """The body was scrolled to `position` of at most `end` (pixels)."""

    def _scrolled(self, widget: toga.ScrollContainer, **_: object) -> None:
        self.app.touch()
        self.scrolled(widget.vertical_position, widget.max_vertical_position)

    # --- helpers for screens --------------------------------------------

    def button(
        self, label: str, on_press: Callable[[], object], *, waits: bool = True
    ) -> toga.Button:
        """A button whose press counts as activity.

        With `waits`, it is disabled while the screen is busy; rows of a list
        pass False, since they are made afresh on every refresh.
        """

        def pressed(widget: toga.Button, **_: object) -> None:
            self.app.touch()
            if self.notice is not None and not self.notice.error:
                self.show_notice(None)  # "Copied", "Up to date": said once
            on_press()

        widget = kit.button(label, pressed)
        if waits:
            self.actions.append(widget)
        return widget

    def run(
        self, message: str, work: Coroutine[Any, Any, object], *, name: str = ""
    ) -> None:
        """Do `work` in the background, showing `message` with a progress indicator."""
        self.app.run_busy(self, message, work, name=name or type(self).__name__)

    def show_notice(self, notice: Notice | None) -> None:
        """Show `notice` at the top of the screen (None hides it)."""
        self.notice = notice
        if notice is None:
            self.notice_title.text = ""
            self.notice_text.text = ""
            kit.set_visible(self.notice_box, False)
            return
        self.notice_title.text = notice.title
        self.notice_text.text = notice.text
        kit.tag(self.notice_box, "error" if notice.error else "info")
        kit.tag(self.notice_title, "error" if notice.error else "info")
        kit.tag(self.notice_text, "error" if notice.error else "info")
        kit.set_visible(self.notice_box, True)
        self.app.repaint(self)

    def info(self, title: str, detail: str = "", next_step: str = "") -> None:
        """Show a notice that is not an error."""
        self.show_notice(Notice(title, detail, next_step, error=False))

    def set_busy(self, message: str | None) -> None:
        """Show (or hide, with None) the progress indicator; disable the buttons."""
        if message is None:
            self.busy.stop()
        else:
            self.busy.start(message)
        for widget in self.actions:
            widget.enabled = message is None
