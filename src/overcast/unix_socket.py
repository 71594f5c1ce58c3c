"""Unix sockets that are private from the instant they appear at their path.

The agent's local API and the Docker plugin are root's interfaces: whoever can connect drives
the agent (creates endpoints in any tenant the agent's credentials reach). uvicorn creates a
socket with the process umask and then chmods it to 0666; a chmod afterwards leaves a window in
which another user connects and keeps the connection. Binding under a fresh 0700 directory,
setting the mode there and renaming the socket into place closes the window: at its public path
the socket has had its final mode from the start (rename is atomic; a connect() follows the
path to the same inode, whatever name it was bound under).
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path


def bind_private(path: Path, mode: int = 0o600, backlog: int = 2048) -> socket.socket:
    """A listening unix stream socket at ``path`` with ``mode`` from its first instant.

    An existing file at ``path`` (a stale socket of a previous run) is replaced atomically.
    The parent directory is created if missing (0755: the mode of the socket decides access).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".overcast-", dir=path.parent))  # created 0700
    staged = staging / "s"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(staged))
        os.chmod(staged, mode)
        os.rename(staged, path)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        staged.unlink(missing_ok=True)
        raise
    finally:
        staging.rmdir()
    return sock
