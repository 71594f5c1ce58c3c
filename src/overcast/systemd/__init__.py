"""systemd units for Overcast's services, shipped with the package.

The directory and the controller run as a dynamic unprivileged user with a private state
directory; the agent as root with CAP_NET_ADMIN and CAP_SYS_ADMIN only; the Docker plugin as
root with no capability. TLS keys and runtime credentials reach the services as systemd
credentials. ``overcast systemd-units`` writes them with the path of this installation's
``overcast`` (pip puts it in different places); docs/operations.md says how to set them up.
"""

from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path

UNITS = (
    "overcast-directory.service",
    "overcast-controller.service",
    "overcast-agent.service",
    "overcast-docker-plugin.service",
    "overcast-gateway.service",
)
#: The executable the shipped files name (a system-wide pip install as root).
SHIPPED_EXECUTABLE = "/usr/local/bin/overcast"


def installed_executable() -> str:
    """The ``overcast`` of the running installation (its virtualenv's, if it has one)."""
    beside = Path(sys.executable).parent / "overcast"
    if beside.exists():
        return str(beside)
    return shutil.which("overcast") or SHIPPED_EXECUTABLE


def render(executable: str) -> dict[str, str]:
    """Each unit's text, naming ``executable``."""
    files = resources.files(__name__)
    return {name: files.joinpath(name).read_text().replace(SHIPPED_EXECUTABLE, executable) for name in UNITS}


def write(directory: Path, executable: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(executable).items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written
