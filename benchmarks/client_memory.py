"""Resident memory of a process holding an unlocked vault with every summary loaded.

    echo PASSWORD | .venv/bin/python -m benchmarks.client_memory PROFILE_DIR

Prints two numbers in MB: the resident set now, and the peak (which includes
Argon2id's 64 MiB working memory during unlock, freed right after). Run by
benchmarks/client_device.py in a fresh process that imports only the device
core, as a phone would.
"""

import sys
from pathlib import Path

from strongroom.client.config import ClientSettings
from strongroom.client.device import Device
from strongroom.client.keystore import MemoryKeystore


def _status_mb(field: str) -> float:
    # /proc, not getrusage: ru_maxrss survives exec and would report the
    # parent benchmark's own peak.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    password = sys.stdin.readline().rstrip("\n")
    device = Device(ClientSettings(home=Path(sys.argv[1])), keystore=MemoryKeystore())
    vault = device.unlock(password)
    vault.search("service")
    vault.lists()
    print(f"{_status_mb('VmRSS'):.1f} {_status_mb('VmHWM'):.1f}")
    vault.lock()


if __name__ == "__main__":
    main()
