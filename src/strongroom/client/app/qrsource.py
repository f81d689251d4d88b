"""Where a pairing code comes from: the camera, a picture, or pasted text.

Toga offers no live QR scanner. Where the platform has a camera Toga can
drive (Android, iOS), the person takes a photo of the code and the core
decodes it with zxing-cpp, exactly as it decodes a chosen picture. Where Toga
has a file dialog (desktops), the person can choose a picture. Pasting the
code's text works everywhere. Each path is offered only where it works
(a camera or file dialog, and the decoder installed).
"""

import contextlib
import importlib.util
import logging
import tempfile
from pathlib import Path

import toga

from strongroom.client.app import kit
from strongroom.client.device import Device
from strongroom.client.errors import BadPairingCode
from strongroom.protocol.qr import PairingPayload

log = logging.getLogger(__name__)

PICTURE_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]


def decoder_available() -> bool:
    """Whether the QR decoder (zxing-cpp, used by the core) is installed.

    It is a compiled extension; a phone build without a wheel for it still
    pairs by pasted text.
    """
    return importlib.util.find_spec("zxingcpp") is not None


def camera_available(app: toga.App) -> bool:
    """Whether this platform has a camera Toga can take a photo with."""
    if not decoder_available():
        return False
    try:
        return bool(app.camera.devices)
    except (NotImplementedError, RuntimeError, AttributeError):
        # Toga raises NotImplementedError on backends without a camera API
        # (GTK, Textual); a device without a camera lists none.
        return False


def picture_dialog_available() -> bool:
    """Whether the backend can show a dialog to choose a picture file."""
    if not decoder_available() or not kit.backend_has("dialogs"):
        return False
    return hasattr(toga.platform.get_factory().dialogs, "OpenFileDialog")


async def take_photo(app: toga.App) -> toga.Image | None:
    """Ask for the camera permission if needed and take a photo (None: cancelled)."""
    camera = app.camera
    if not camera.has_permission and not await camera.request_permission():
        raise BadPairingCode(
            "Strongroom may not use the camera",
            hint="allow the camera in the phone's settings, or paste the code",
        )
    photo: toga.Image | None = await camera.take_photo()
    return photo


async def choose_picture(window: toga.Window) -> Path | None:
    """Let the person choose a picture file (None: cancelled)."""
    chosen = await window.dialog(
        toga.OpenFileDialog(
            "Choose a picture of your pairing QR code", file_types=PICTURE_TYPES
        )
    )
    return Path(str(chosen)) if chosen else None


def decode_photo(photo: toga.Image) -> PairingPayload:
    """Decode a camera photo through the core (runs on the worker thread).

    The photo goes to a private temporary file for the core's decoder and is
    deleted at once: it shows a pairing token.
    """
    with tempfile.TemporaryDirectory(prefix="strongroom-qr-") as scratch:
        path = Path(scratch) / "photo.png"
        # `data` is PNG on every backend; Image.save is not (the dummy
        # backend only pretends), and the decoder wants a file.
        path.write_bytes(photo.data)
        try:
            return Device.read_qr_image(path)
        except BadPairingCode as exc:
            # The core names the file; the person only knows a photo.
            raise BadPairingCode(
                exc.message.replace(str(path), "the photo"), hint=exc.hint
            ) from exc
        finally:
            with contextlib.suppress(OSError):
                path.unlink()


def decode_picture(path: Path) -> PairingPayload:
    """Decode a chosen picture through the core (runs on the worker thread)."""
    return Device.read_qr_image(path)


def decode_text(text: str) -> PairingPayload:
    """Parse pasted code text (the `strongroom://pair?...` URI)."""
    return Device.parse_pairing(text)
