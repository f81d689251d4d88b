"""Widgets the screens are built from, with stand-ins where a backend lacks one.

Android, iOS, GTK and the dummy backend have every widget used here. Toga's
Textual backend (used to look at the app in a terminal) has only boxes,
buttons, labels, switches and text inputs, so this module asks the backend
what it implements and builds an equivalent from those where it must: a text
input that masks its characters, a label instead of a progress bar, buttons
instead of a drop-down. Screens never ask which backend runs.
"""

import logging
import textwrap
import weakref
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import toga
from toga.platform import get_factory

log = logging.getLogger(__name__)

MASK = "••••••••"

Handler = Callable[..., object]

# What a widget is for ("error", "info", "muted"), so the theme can colour it.
_ROLES: "weakref.WeakKeyDictionary[toga.Widget, str]" = weakref.WeakKeyDictionary()


def tag(widget: toga.Widget, role: str) -> toga.Widget:
    """Give `widget` a role the theme colours ("error", "info", "muted")."""
    _ROLES[widget] = role
    return widget


def role_of(widget: toga.Widget) -> str:
    """The role given with `tag`, or ""."""
    return _ROLES.get(widget, "")


@cache
def backend_has(name: str) -> bool:
    """Whether the running Toga backend implements the widget or facility `name`."""
    try:
        getattr(get_factory(), name)
    except NotImplementedError:
        return False
    return True


def backend_name() -> str:
    """The running backend's name, such as `toga_android` or `toga_dummy`."""
    return str(toga.platform.get_backend())


def column(*children: toga.Widget, gap: int = 6, margin: int = 0) -> toga.Box:
    """A vertical box."""
    return toga.Box(children=list(children), direction="column", gap=gap, margin=margin)


def row(*children: toga.Widget, gap: int = 6) -> toga.Box:
    """A horizontal box."""
    return toga.Box(children=list(children), direction="row", gap=gap)


# Characters per line of a wrapped text. Toga's labels never wrap (Android
# measures them "with word-wrapping disabled", Textual draws one line per
# line), so a sentence longer than the screen is cut off at its edge unless
# the app breaks it itself. 40 fit a 320 dp phone at the default text size.
WRAP_COLUMNS = 40
# Beside buttons in a row (a username and its Copy button), less room is left.
ROW_COLUMNS = 24
HEADING_COLUMNS = 28


def wrap(value: str, width: int = WRAP_COLUMNS) -> str:
    """`value` broken into lines of at most `width` characters.

    Breaks at spaces where it can; a word longer than a line (a URL, a
    password) is broken inside, since a cut-off word is worse than a split
    one. Line breaks already in `value` are kept.
    """
    return "\n".join(
        "\n".join(textwrap.wrap(line, width, break_on_hyphens=False)) or line
        for line in value.split("\n")
    )


class Text(toga.Label):
    """A label whose text is wrapped to fit a phone's width.

    `text` answers what the app set (whole sentences); the widget shows it
    wrapped at `columns`.
    """

    def __init__(self, value: str = "", *, columns: int = WRAP_COLUMNS, **style: Any):
        self.columns = columns
        self._plain = ""
        super().__init__(value, **style)

    @property
    def text(self) -> str:
        """The text as set, before wrapping."""
        return self._plain

    @text.setter
    def text(self, value: object) -> None:
        self._plain = "" if value is None else str(value)
        toga.Label.text.fset(self, wrap(self._plain, self.columns))  # type: ignore[attr-defined]

    @property
    def shown(self) -> str:
        """The text as the widget draws it, line breaks included."""
        return str(self._impl.get_text())


def heading(value: str) -> Text:
    """A screen or section title."""
    return Text(value, columns=HEADING_COLUMNS, font_weight="bold", font_size=16)


def text(value: str = "", *, columns: int = WRAP_COLUMNS, **style: Any) -> Text:
    """A line (or several) of text, wrapped to the screen."""
    return Text(value, columns=columns, **style)


def button(label: str, on_press: Handler, **style: Any) -> toga.Button:
    """A button."""
    return toga.Button(label, on_press=on_press, **style)


def text_input(
    placeholder: str = "", value: str = "", on_confirm: Any = None
) -> toga.TextInput:
    """A one-line text input."""
    return toga.TextInput(
        placeholder=placeholder, value=value, on_confirm=on_confirm, flex=1
    )


def password_input(placeholder: str = "", on_confirm: Any = None) -> toga.TextInput:
    """A text input whose characters are never shown.

    Where the backend has no PasswordInput, a plain input is made and its
    native widget told to mask (Textual's Input can): a master password must
    never appear on screen, not even in a terminal capture.
    """
    if backend_has("PasswordInput"):
        return toga.PasswordInput(
            placeholder=placeholder, on_confirm=on_confirm, flex=1
        )
    widget = toga.TextInput(placeholder=placeholder, on_confirm=on_confirm, flex=1)
    native = getattr(widget._impl, "native", None)
    if native is not None and hasattr(native, "password"):
        native.password = True
    else:  # pragma: no cover - every backend we ship on has one or the other
        log.warning("password_input_unmasked backend=%s", backend_name())
    return widget


def scroll(content: toga.Widget) -> toga.Widget:
    """`content` in a vertically scrolling container where the backend has one."""
    if backend_has("ScrollContainer"):
        return toga.ScrollContainer(content=content, horizontal=False, flex=1)
    return content


def switch(label: str, value: bool, on_change: Handler) -> toga.Switch:
    """An on/off switch."""
    return toga.Switch(label, value=value, on_change=on_change)


class Busy:
    """A progress indicator with a sentence saying what is going on.

    A ProgressBar where the backend has one (indeterminate until a fraction
    is known), otherwise the sentence alone.
    """

    def __init__(self) -> None:
        self.label = text("")
        self.bar: toga.ProgressBar | None = None
        children: list[toga.Widget] = [self.label]
        if backend_has("ProgressBar"):
            self.bar = toga.ProgressBar(flex=1)
            self.bar.max = None  # indeterminate until a fraction is known
            children.insert(0, self.bar)
        self.widget = column(*children, gap=2)
        set_visible(self.widget, False)
        self.running = False

    def start(self, message: str) -> None:
        """Show the indicator with `message`."""
        self.running = True
        self.label.text = message
        set_visible(self.widget, True)
        if self.bar is not None:
            self.bar.max = None
            self.bar.start()

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Show how far the work has got (0.0 to 1.0)."""
        if message is not None:
            self.label.text = message
        if self.bar is not None:
            self.bar.max = 1.0
            self.bar.value = max(0.0, min(1.0, fraction))
            self.bar.start()
        elif message is None:
            self.label.text = f"{self.label.text.split(' (')[0]} ({fraction:.0%})"

    def stop(self) -> None:
        """Hide the indicator."""
        self.running = False
        if self.bar is not None:
            self.bar.stop()
        self.label.text = ""
        set_visible(self.widget, False)


class Choice:
    """Pick one of a few values: a Selection, or a row of buttons without one.

    `items` pairs each value with the words shown for it.
    """

    def __init__(
        self,
        items: Sequence[tuple[str, str]],
        value: str,
        on_change: Callable[[str], None],
    ) -> None:
        self.items = list(items)
        self.on_change = on_change
        self._value = value
        self.selection: toga.Selection | None = None
        self.buttons: dict[str, toga.Button] = {}
        if backend_has("Selection"):
            titles = [title for _, title in self.items]
            self.selection = toga.Selection(items=titles, flex=1)
            self.selection.value = self._title(value)
            self.selection.on_change = self._selection_changed
            self.widget: toga.Widget = self.selection
        else:
            for key, title in self.items:
                self.buttons[key] = toga.Button(
                    title, on_press=self._button_pressed(key)
                )
            self.widget = row(*self.buttons.values())
            self._mark()

    @property
    def value(self) -> str:
        """The chosen value."""
        return self._value

    def choose(self, value: str) -> None:
        """Choose `value` as a person would (fires `on_change` when it changes)."""
        if self.selection is not None:
            self.selection.value = self._title(value)
        else:
            self._set(value)

    def _title(self, value: str) -> str:
        return next(title for key, title in self.items if key == value)

    def _selection_changed(self, widget: toga.Selection, **_: object) -> None:
        title = str(widget.value)
        key = next((k for k, t in self.items if t == title), None)
        if key is not None:
            self._set(key)

    def _button_pressed(self, key: str) -> Handler:
        def pressed(widget: toga.Button, **_: object) -> None:
            self._set(key)

        return pressed

    def _set(self, value: str) -> None:
        if value == self._value:
            return
        self._value = value
        self._mark()
        self.on_change(value)

    def _mark(self) -> None:
        for key, title in self.items:
            if key in self.buttons:
                mark = "●" if key == self._value else "○"
                self.buttons[key].text = f"{mark} {title}"


def set_visible(widget: toga.Widget, visible: bool) -> None:
    """Show or hide `widget`; a hidden one takes no space.

    `display: none` frees the space; `visibility: hidden` is what the
    Textual backend obeys (it draws widgets of zero size otherwise).
    """
    widget.style.display = "pack" if visible else "none"
    widget.style.visibility = "visible" if visible else "hidden"
