"""The Strongroom phone app: Toga screens on top of the device core.

    app.py        StrongroomApp (a toga.App) and main(): navigation, busy state
    worker.py     every call into the core runs on one background thread
    messages.py   core errors turned into sentences a person can act on
    kit.py        widgets, with stand-ins where a backend lacks one
    theme.py      light and dark palettes
    prefs.py      app preferences kept in the profile (theme, auto-lock)
    clipboard.py  platform clipboards, cleared again after a while
    qrsource.py   where a pairing code comes from: camera, picture, pasted text
    screens/      pair, unlock, lists, record, sync, settings

The same Python runs on a desktop (`python -m strongroom.client.app`), under
Briefcase on Android and iOS, on Toga's Textual backend in a terminal, and on
the dummy backend in tests.
"""
