"""Unlock: the master password, or biometrics when turned on and allowed.

The key derivation (Argon2id, a fraction of a second to a few seconds on a
phone) runs on the worker thread behind a progress indicator; the sync that
follows every unlock runs in the background on the lists screen.
"""

import toga

from strongroom.client.app import kit
from strongroom.client.app.screens.base import Screen
from strongroom.client.models import DeviceStatus


class UnlockScreen(Screen):
    """Unlock the offline copy."""

    title = "Unlock Strongroom"

    def build(self) -> toga.Widget:
        """Who this phone is paired as, and the ways to unlock."""
        self.who = kit.text("")
        self.password = kit.password_input(
            placeholder="Mobile master password", on_confirm=self._confirm
        )
        self.unlock_button = self.button("Unlock", self.on_unlock)
        self.biometric_button = self.button("Unlock with biometrics", self.on_biometric)
        kit.set_visible(self.biometric_button, False)
        # Offered only when the copy cannot be read at all: the way out.
        self.erase_button = self.button("Erase this phone's copy", self.on_erase)
        kit.set_visible(self.erase_button, False)
        return kit.column(
            self.who,
            kit.row(kit.text("Master password"), self.password),
            kit.row(self.unlock_button, self.biometric_button),
            self.erase_button,
        )

    def shown(self) -> None:
        """Say whose phone this is; offer biometrics where they may be used."""
        self.update(self.app.status)
        self.password.focus()

    def update(self, status: DeviceStatus | None) -> None:
        """Show `status` (paired server and user, biometric availability)."""
        if status is None or not status.paired:
            self.who.text = ""
            kit.set_visible(self.biometric_button, False)
            return
        self.who.text = f"{status.username} on {status.server_url}"
        allowed = bool(status.policies and status.policies.biometric_allowed)
        kit.set_visible(self.biometric_button, status.biometric and allowed)

    def _confirm(self, widget: toga.TextInput, **_: object) -> None:
        self.app.touch()
        self.on_unlock()

    def on_unlock(self) -> None:
        """Unlock with the master password typed."""
        password = self.password.value
        if not password:
            self.info("Type your master password")
            return
        self.password.value = ""
        self.run(
            "Unlocking… checking your master password",
            self.app.unlock(self, password),
            name="unlock",
        )

    def offer_erase(self) -> None:
        """The copy is damaged: offer to erase it and pair again."""
        kit.set_visible(self.erase_button, True)

    def on_erase(self) -> None:
        """Erase the damaged copy (the server keeps everything)."""
        self.run("Erasing…", self.app.erase_damaged(), name="erase")

    def on_biometric(self) -> None:
        """Unlock with the key in the platform keystore."""
        self.run(
            "Unlocking with biometrics…", self.app.unlock(self, None), name="unlock"
        )
