"""Errors in the VSD wire format (``vsd-api.md`` §6).

Every failure the directory reports is a :class:`VsdError`; the HTTP layer turns it into
``{"errors": [{"property": ..., "descriptions": [{"title": ..., "description": ...}]}],
"internalErrorCode": ...}`` with the status VSD uses (409 for validation, not 400).
"""

from __future__ import annotations

from typing import Any


class VsdError(Exception):
    """A request the directory refuses; nothing it would have written is committed."""

    def __init__(
        self,
        status: int,
        title: str,
        description: str,
        *,
        property: str = "",
        code: int | None = None,
        choices: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {description}")
        self.status = status
        self.title = title
        self.description = description
        self.property = property
        self.code = code
        self.choices = choices

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "errors": [
                {
                    "property": self.property,
                    "descriptions": [{"title": self.title, "description": self.description}],
                }
            ],
        }
        if self.code is not None:
            body["internalErrorCode"] = self.code
        if self.choices is not None:
            body["choices"] = self.choices
        return body


def invalid(prop: str, description: str = "Invalid input", *, code: int = 2001) -> VsdError:
    """A validation failure on one attribute (409, property set)."""
    return VsdError(409, "Invalid input", description, property=prop, code=code)


def mandatory(prop: str) -> VsdError:
    return VsdError(409, "Invalid input", "This value is mandatory.", property=prop, code=2001)


def conflict(description: str, *, prop: str = "", title: str = "Conflict", code: int = 2510) -> VsdError:
    """A request that clashes with existing state (duplicate name, overlap, in use)."""
    return VsdError(409, title, description, property=prop, code=code)


def not_found(rest_name: str, object_id: str) -> VsdError:
    return VsdError(404, f"{rest_name} not found", f"Cannot find {rest_name} with ID {object_id}", code=2000)


def no_changes() -> VsdError:
    return VsdError(
        409,
        "No changes to modify the entity",
        "There are no attribute changes to modify the entity.",
        code=2039,
    )


def bad_request(description: str, *, prop: str = "") -> VsdError:
    return VsdError(400, "Malformed request", description, property=prop, code=2002)


def unauthorized(description: str = "Authentication failed") -> VsdError:
    return VsdError(401, "Unauthorized", description, code=2401)


def expired() -> VsdError:
    return VsdError(419, "Authentication expired", "The API key has expired; log in again.", code=2419)


def forbidden(description: str) -> VsdError:
    return VsdError(403, "Forbidden", description, code=2403)


def confirmation(description: str) -> VsdError:
    """A 300 Multiple Choices answer: the client must repeat the request with responseChoice=1."""
    return VsdError(
        300,
        "Confirmation required",
        description,
        code=2300,
        choices=[{"id": 1, "label": "OK"}, {"id": 0, "label": "Cancel"}],
    )
