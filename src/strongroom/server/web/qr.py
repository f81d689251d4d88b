"""QR codes as inline SVG (segno), safe to place in a page under our CSP."""

import segno
from markupsafe import Markup


def svg(text: str, *, title: str, scale: int = 5) -> Markup:
    """An inline <svg> of `text` as a QR code, labelled for screen readers.

    segno writes only presentation attributes (no style attribute), so the
    Content-Security-Policy's style-src 'self' does not block it. Error
    correction M survives a phone camera's glare on a monitor.
    """
    code = segno.make(text, error="m", micro=False)
    # A viewBox instead of a fixed size, so CSS can scale the code to the
    # screen without cropping its quiet zone.
    markup = code.svg_inline(
        scale=scale,
        border=4,
        dark="#000",
        light="#fff",
        title=title,
        svgclass="qr",
        omitsize=True,
    )
    # segno escapes the title; the rest is numbers and path data it made.
    markup = markup.replace("<svg ", '<svg role="img" shape-rendering="crispEdges" ', 1)
    return Markup(markup)  # noqa: S704
