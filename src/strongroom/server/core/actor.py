"""Who is doing something, and from where: every service call names its actor."""

from dataclasses import dataclass

PLATFORM_WEB = "web"
PLATFORM_API = "api"
PLATFORM_DEVICE = "device"
PLATFORM_CLI = "cli"
PLATFORM_SYSTEM = "system"
PLATFORMS = (PLATFORM_WEB, PLATFORM_API, PLATFORM_DEVICE, PLATFORM_CLI, PLATFORM_SYSTEM)


@dataclass(frozen=True)
class Actor:
    """The person or process behind a call.

    `operator` marks whoever holds the installation itself (the admin CLI run
    beside the key file): list permissions do not bind them.
    """

    user_id: str | None
    name: str
    platform: str
    is_admin: bool = False
    operator: bool = False
    device_id: str | None = None
    ip: str | None = None

    @classmethod
    def cli_operator(cls, os_user: str) -> "Actor":
        """The operator running the admin CLI as `os_user`."""
        return cls(
            user_id=None,
            name=f"cli:{os_user}",
            platform=PLATFORM_CLI,
            is_admin=True,
            operator=True,
        )

    @classmethod
    def system(cls) -> "Actor":
        """Strongroom itself (start-up tasks, migrations)."""
        return cls(user_id=None, name="system", platform=PLATFORM_SYSTEM, operator=True)
