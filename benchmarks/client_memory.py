"""Resident memory of a process holding an unlocked vault with every summary loaded.

    .venv/bin/python -m benchmarks.client_memory PROFILE_DIR   (prints MB)

Run by benchmarks/client_device.py in a fresh process, so nothing of the
benchmark's server side is counted.
"""

import resource
import sys
from pathlib import Path

from strongroom.client.config import ClientSettings
from strongroom.client.device import Device
from strongroom.client.keystore import MemoryKeystore
from tests.client.serverside import MASTER_PASSWORD


def main() -> None:
    device = Device(ClientSettings(home=Path(sys.argv[1])), keystore=MemoryKeystore())
    vault = device.unlock(MASTER_PASSWORD)
    vault.search("service")
    vault.lists()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{peak_kib / 1024:.1f}")
    vault.lock()


if __name__ == "__main__":
    main()
