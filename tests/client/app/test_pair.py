"""The Pair screen against the real App Server: paste, picture, camera, and refusals."""

import toga

from tests.client.app.conftest import MASTER, PhoneServer, pair


def test_pasting_the_code_pairs_and_shows_the_folders(make_app, phone_server: PhoneServer) -> None:
    """Pasting the QR text shows server and username, and the master password pairs and syncs."""
    harness = make_app()
    screen = harness.screen
    assert "Pair this phone" in harness.text()
    harness.type(screen.code_input, phone_server.payload().to_uri())
    harness.press(screen.use_code_button)
    shown = harness.text()
    assert f"Server: {phone_server.server.url}" in shown
    assert "(alice)" in shown
    harness.type(screen.password, MASTER)
    harness.press(screen.pair_button)
    shown = harness.text()
    print(shown)
    assert "This phone is paired" in shown
    assert "[▸ Finance (1)]" in shown
