"""Light and dark palettes, and which one applies.

Toga has no app-wide theme switch, so the app paints its own boxes and text:
`apply` walks a screen's widgets and sets their colours. "system" follows the
platform's dark mode where Toga can read it, and is light where it cannot.
"""

from dataclasses import dataclass
from typing import Literal

import toga

from strongroom.client.app import kit

ThemeChoice = Literal["system", "light", "dark"]
THEME_CHOICES: tuple[tuple[ThemeChoice, str], ...] = (
    ("system", "System"),
    ("light", "Light"),
    ("dark", "Dark"),
)


@dataclass(frozen=True)
class Palette:
    """The colours of one theme."""

    name: str
    background: str
    text: str
    muted: str
    error_background: str
    error_text: str
    info_background: str
    info_text: str


LIGHT = Palette(
    name="light",
    background="#ffffff",
    text="#1b1f24",
    muted="#57606a",
    error_background="#ffebe9",
    error_text="#82071e",
    info_background="#ddf4ff",
    info_text="#0a3069",
)
DARK = Palette(
    name="dark",
    background="#0d1117",
    text="#e6edf3",
    muted="#8b949e",
    error_background="#3c1618",
    error_text="#ffa198",
    info_background="#0c2d6b",
    info_text="#a5d6ff",
)


def palette_for(choice: str, system_dark: bool | None) -> Palette:
    """The palette for `choice`, given the platform's dark mode (None: unknown)."""
    if choice == "dark":
        return DARK
    if choice == "light":
        return LIGHT
    return DARK if system_dark else LIGHT


def apply(root: toga.Widget, palette: Palette) -> None:
    """Paint `root` and everything in it with `palette`.

    Widgets given a role with `kit.tag` ("error", "info", "muted") take the
    colours of that role.
    """
    for widget in _walk(root):
        role = kit.role_of(widget)
        if isinstance(widget, toga.Box):
            if role == "error":
                widget.style.background_color = palette.error_background
            elif role == "info":
                widget.style.background_color = palette.info_background
            elif widget is root:
                widget.style.background_color = palette.background
        elif isinstance(widget, toga.Label):
            widget.style.color = {
                "error": palette.error_text,
                "info": palette.info_text,
                "muted": palette.muted,
            }.get(role, palette.text)


def _walk(widget: toga.Widget) -> list[toga.Widget]:
    found = [widget]
    content = getattr(widget, "content", None)
    if isinstance(content, toga.Widget):
        found.extend(_walk(content))
    for child in widget.children:
        found.extend(_walk(child))
    return found
