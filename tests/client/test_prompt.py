"""The master password is asked on the terminal without echo (a real pty)."""

import fcntl
import os
import select
import shutil
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.client.conftest import PairedTemplate
from tests.client.fakes import MASTER


def _read_until(fd: int, needle: bytes, timeout: float = 60) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_unlock_prompt_does_not_echo(
    paired_template: PairedTemplate, tmp_path: Path
) -> None:
    """`unlock` on a terminal prompts; the password never appears, a token does."""
    home = tmp_path / "profile"
    shutil.copytree(paired_template.profile, home)
    controller, terminal = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}

    def own_terminal() -> None:
        # A session of its own with the pty as controlling terminal, as in a
        # login: getpass then talks to this pty, never to the parent's tty.
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strongroom.client.cli",
            "--profile",
            str(home),
            "unlock",
        ],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
        start_new_session=True,
        preexec_fn=own_terminal,
    )
    os.close(terminal)
    try:
        prompt = _read_until(controller, b"Master password")
        assert b"Master password" in prompt
        # Type only once the terminal stopped echoing, as a person would
        # after the prompt: that the flag goes off is what "no echo" means.
        deadline = time.monotonic() + 30
        while termios.tcgetattr(controller)[3] & termios.ECHO:
            assert time.monotonic() < deadline, "the terminal kept echoing"
            time.sleep(0.05)
        time.sleep(0.2)
        os.write(controller, MASTER.encode() + b"\r")
        rest = _read_until(controller, b"srm1.")
        rest += _read_until(controller, b"\n", timeout=5)
        assert child.wait(60) == 0
    finally:
        child.kill()
        os.close(controller)
    assert MASTER.encode() not in prompt + rest
    assert b"srm1." in rest
