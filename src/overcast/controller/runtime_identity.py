"""Who a host's runtime requests act as: the directory user whose credentials its agent holds.

The agent sends them in its ``Hello`` (under TLS: see ``--insecure``); the controller logs in
once per session for an API key and authenticates each request with the key, which costs a
key lookup (cached) instead of a password hash per request (scrypt, ~50 ms). A key revoked by
a password change, a disable or a deletion fails its next lookup; the password is then tried
once more, so a changed password or a disabled user ends the host's rights at its next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..client.vsd import xrest
from ..directory.controller_interface import Directory, Principal, VsdError
from ..protocol import controller_pb2 as pb


class CredentialsRefused(Exception):
    """The runtime credentials do not authenticate (unknown, wrong, disabled)."""


@dataclass
class RuntimeIdentity:
    organization: str
    user: str
    password: str = field(repr=False)
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_hello(cls, hello: pb.Hello) -> RuntimeIdentity | None:
        if not hello.HasField("runtime_credentials"):
            return None
        given = hello.runtime_credentials
        return cls(given.organization, given.user, given.password)

    def principal(self, directory: Directory) -> Principal:
        """Authenticate (blocking: SQL). Raises :class:`CredentialsRefused`."""
        if self.api_key is not None:
            try:
                return directory.authenticate(self.organization, xrest(self.user, self.api_key))[0]
            except VsdError:
                self.api_key = None  # expired or revoked: the password decides
        try:
            me = directory.login(self.organization, xrest(self.user, self.password))
        except VsdError as exc:
            raise CredentialsRefused(exc.description) from None
        self.api_key = str(me["APIKey"])
        return directory.authenticate(self.organization, xrest(self.user, self.api_key))[0]
