"""The runtime credentials an agent is given: a directory user whose rights its runtimes'
requests (CNI, Docker, ``overcast agent attach``) act with at the controller.

A TOML file, root's alone (like an SSH key, a file others can read is refused)::

    organization = "acme"       # the user's enterprise
    user = "cni-paris-1"
    password = "..."
"""

from __future__ import annotations

import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..protocol import controller_pb2 as pb


@dataclass(frozen=True)
class RuntimeCredentials:
    organization: str
    user: str
    password: str = field(repr=False)

    @classmethod
    def load(cls, path: Path) -> RuntimeCredentials:
        """Read and check a credentials file; ValueError says what is wrong."""
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"--credentials {path}: {exc.strerror}") from None
        if mode & 0o077:
            raise ValueError(f"--credentials {path} is readable by others (mode {mode:o}): chmod 600 it")
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"--credentials {path}: {exc}") from None
        missing = [
            k for k in ("organization", "user", "password") if not isinstance(raw.get(k), str) or not raw[k]
        ]
        if missing:
            raise ValueError(f"--credentials {path} needs {', '.join(missing)} (strings)")
        return cls(raw["organization"], raw["user"], raw["password"])

    def write(self, path: Path) -> Path:
        """Write the file owner-only (tests, the demo, benchmarks)."""
        import json
        import os

        body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in self.__dict__.items())
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(body)
        return path

    def message(self) -> pb.Credentials:
        return pb.Credentials(organization=self.organization, user=self.user, password=self.password)


#: The operator's account with the bootstrap password: what the demo and the test clusters use.
CSPROOT = RuntimeCredentials("csp", "csproot", "csproot")
