"""Settings: biometric unlock, auto-lock delay, theme, and log out.

Log out asks once more before it unpairs the phone and erases its copy: it
cannot be undone without a new QR code.
"""

import toga

from strongroom.client.app import kit, prefs
from strongroom.client.app.screens.base import Screen
from strongroom.client.app.theme import THEME_CHOICES


class SettingsScreen(Screen):
    """The person's choices for this phone."""

    title = "Settings"

    def build(self) -> toga.Widget:
        """A switch, two choices, and log out."""
        self._quiet = False
        self.biometric = kit.switch("Biometric unlock", False, self._biometric_changed)
        self.biometric_note = kit.tag(kit.text(""), "muted")
        current = self.app.prefs
        self.auto_lock = kit.Choice(
            prefs.AUTO_LOCK_CHOICES,
            str(current.auto_lock_minutes),
            self._auto_lock_changed,
        )
        self.theme = kit.Choice(THEME_CHOICES, current.theme, self._theme_changed)
        self.logout_button = self.button("Log out", self.on_logout)
        self.confirm_text = kit.text(
            "Log out unpairs this phone and erases its offline copy. You will "
            "need a new QR code to use Strongroom here again."
        )
        self.confirm_button = self.button("Yes, log out", self.on_confirm_logout)
        self.force_button = self.button("Log out anyway", self.on_force_logout)
        self.cancel_button = self.button("Cancel", self.on_cancel_logout)
        self.confirm_box = kit.column(
            self.confirm_text,
            kit.row(self.confirm_button, self.force_button, self.cancel_button),
        )
        kit.set_visible(self.confirm_box, False)
        kit.set_visible(self.force_button, False)
        self.back_button = self.button("‹ Back", self.app.show_lists)
        return kit.column(
            self.biometric,
            self.biometric_note,
            kit.text("Lock automatically after"),
            self.auto_lock.widget,
            kit.text("Theme"),
            self.theme.widget,
            self.logout_button,
            self.confirm_box,
            self.back_button,
            gap=10,
        )

    def shown(self) -> None:
        """Show biometric unlock as it is, and whether the policy allows it."""
        status = self.app.status
        allowed = bool(status and status.policies and status.policies.biometric_allowed)
        self.set_biometric(bool(status and status.biometric))
        self.biometric.enabled = allowed
        self.biometric_note.text = (
            "Unlock with your fingerprint or face; the master password is still "
            "asked for now and then."
            if allowed
            else "Your organisation does not allow biometric unlock."
        )

    def set_biometric(self, value: bool) -> None:
        """Show the switch as `value` without acting on it."""
        self._quiet = True
        try:
            self.biometric.value = value
        finally:
            self._quiet = False

    # --- handlers --------------------------------------------------------

    def _biometric_changed(self, widget: toga.Switch, **_: object) -> None:
        if self._quiet:
            return
        self.app.touch()
        self.run(
            "Turning biometric unlock " + ("on…" if widget.value else "off…"),
            self.app.set_biometric(self, bool(widget.value)),
            name="biometric",
        )

    def _auto_lock_changed(self, value: str) -> None:
        self.app.touch()
        self.app.update_prefs(self.app.prefs.with_auto_lock(int(value)))
        self.info(f"The app now locks after {dict(prefs.AUTO_LOCK_CHOICES)[value]}")

    def _theme_changed(self, value: str) -> None:
        self.app.touch()
        self.app.update_prefs(self.app.prefs.with_theme(value))

    def on_logout(self) -> None:
        """Ask once more."""
        kit.set_visible(self.confirm_box, True)
        kit.set_visible(self.force_button, False)

    def on_cancel_logout(self) -> None:
        """Keep the pairing."""
        kit.set_visible(self.confirm_box, False)
        self.show_notice(None)

    def on_confirm_logout(self) -> None:
        """Upload what is queued, unpair, erase."""
        self.run("Logging out…", self.app.logout(self, force=False), name="logout")

    def on_force_logout(self) -> None:
        """Unpair and erase even though the server cannot be told."""
        self.run("Logging out…", self.app.logout(self, force=True), name="logout")

    def offer_force(self) -> None:
        """The server could not be reached: offer to log out without it."""
        kit.set_visible(self.confirm_box, True)
        kit.set_visible(self.force_button, True)
