"""Pair: read the QR code (camera, picture or pasted text), then the master password.

Step one reads the code and shows the server and mobile username it names,
so the person sees where the master password is about to go. Step two takes
the master password; pairing (key derivation included) and the first sync run
in the background.
"""

import logging

import toga

from strongroom.client.app import kit, qrsource
from strongroom.client.app.screens.base import Screen
from strongroom.protocol.qr import PairingPayload

log = logging.getLogger(__name__)


class PairScreen(Screen):
    """Pair this phone with the organisation's Strongroom."""

    title = "Pair this phone"

    def build(self) -> toga.Widget:
        """Step one (the code) and step two (the master password)."""
        self.payload: PairingPayload | None = None

        # Step 1: where the code comes from, each way offered only where it works.
        self.camera_button = self.button("Scan the QR code", self.on_camera)
        self.picture_button = self.button("Choose a picture", self.on_picture)
        sources = [
            button
            for button, available in (
                (self.camera_button, qrsource.camera_available(self.app)),
                (self.picture_button, qrsource.picture_dialog_available()),
            )
            if available
        ]
        self.code_input = kit.text_input(
            placeholder="strongroom://pair?...", on_confirm=self._confirm_code
        )
        self.use_code_button = self.button("Use this code", self.on_use_text)
        self.step_one = kit.column(
            kit.text(
                "Open Preferences in Strongroom in your browser to see your "
                "pairing QR code."
            ),
            kit.row(*sources),
            kit.text("Or paste the code's text:"),
            kit.row(self.code_input, self.use_code_button),
        )

        # Step 2: who and where, then the master password.
        self.server_label = kit.text("")
        self.username_input = kit.text_input()
        self.username_input.readonly = True  # bound to the QR code's token
        self.password = kit.password_input(
            placeholder="Mobile master password", on_confirm=self._confirm_password
        )
        self.pair_button = self.button("Pair", self.on_pair)
        self.other_code_button = self.button("Use another code", self.on_other_code)
        self.step_two = kit.column(
            self.server_label,
            kit.row(kit.text("Mobile username"), self.username_input),
            kit.row(kit.text("Master password"), self.password),
            kit.row(self.pair_button, self.other_code_button),
        )
        kit.set_visible(self.step_two, False)
        return kit.column(self.step_one, self.step_two, gap=12)

    def shown(self) -> None:
        """Start at step one, or at step two when a code was already read."""
        if self.payload is None:
            self.code_input.focus()

    # --- step 1 ----------------------------------------------------------

    def on_camera(self) -> None:
        """Take a photo of the code and decode it."""
        self.run("Reading the QR code…", self._from_camera(), name="pair-camera")

    async def _from_camera(self) -> None:
        photo = await qrsource.take_photo(self.app)
        if photo is None:
            return
        payload = await self.app.worker.call(qrsource.decode_photo, photo)
        self.code_read(payload)

    def on_picture(self) -> None:
        """Choose a picture of the code and decode it."""
        self.run("Reading the QR code…", self._from_picture(), name="pair-picture")

    async def _from_picture(self) -> None:
        path = await qrsource.choose_picture(self.app.window)
        if path is None:
            return
        payload = await self.app.worker.call(qrsource.decode_picture, path)
        self.code_read(payload)

    def _confirm_code(self, widget: toga.TextInput, **_: object) -> None:
        self.app.touch()
        self.on_use_text()

    def on_use_text(self) -> None:
        """Use the pasted text."""
        try:
            payload = qrsource.decode_text(self.code_input.value)
        except Exception as exc:  # every failure becomes a notice
            self.app.show_error(self, exc)
            return
        self.code_read(payload)

    def code_read(self, payload: PairingPayload) -> None:
        """Show step two for `payload`."""
        self.payload = payload
        self.show_notice(None)
        self.server_label.text = f"Server: {payload.url}"
        self.username_input.value = payload.username
        self.code_input.value = ""
        kit.set_visible(self.step_one, False)
        kit.set_visible(self.step_two, True)
        self.password.focus()
        log.info("pairing_code_read server=%s", payload.url)

    # --- step 2 ----------------------------------------------------------

    def on_other_code(self) -> None:
        """Back to step one."""
        self.payload = None
        self.password.value = ""
        self.show_notice(None)
        kit.set_visible(self.step_two, False)
        kit.set_visible(self.step_one, True)

    def _confirm_password(self, widget: toga.TextInput, **_: object) -> None:
        self.app.touch()
        self.on_pair()

    def on_pair(self) -> None:
        """Pair with the master password typed, then sync for the first time."""
        if self.payload is None:
            return
        password = self.password.value
        if not password:
            self.info("Type your master password", "It is the mobile one you set.")
            return
        # The field is emptied at once: the password lives only in this call.
        self.password.value = ""
        self.run(
            "Pairing… protecting this phone's copy with your master password",
            self.app.pair(self, self.payload, password),
            name="pair",
        )
