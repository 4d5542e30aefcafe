"""Every error switchboard raises on purpose.

SwitchboardError                 base; its message is safe to show a user
├── ConfigError                  a setting is missing or malformed
│   └── EncryptionKeyError       SWITCHBOARD_ENCRYPTION_KEY missing or not Fernet
├── DecryptError                 a file under data/ does not open with the keys given
├── InvalidInputError            a value a user gave (id, agent id, message, body…)
│   ├── TimeParseError           a phrase we cannot read as an instant or a schedule
│   ├── UnknownZoneError         a time zone that is not an IANA name
│   └── LimitError               more than an agent's tools may do (too many schedules, too often)
├── NotFoundError                no schedule with that id (for this tenant)
├── BusyError                    a pass is delivering that schedule (or to its agent) right now
├── InvalidKeyError              the REST API was given a Letta key Letta refuses
├── InvalidGrantError            an agent's tool token opens no grant (says no more, on purpose)
├── ApiError                     an error answer of the REST API: status, detail, headers
├── TickError                    a pass delivered messages but could not record the outcome
├── BackendError                 the repository could not be read or written
│   ├── GitError                 a git command failed
│   └── GitHubError              the GitHub API refused or failed
└── LettaError                   Letta answered with an error, or not at all
    ├── LettaTransientError      worth retrying: connection, timeout, 429, 502/503/504
    ├── LettaPermanentError      not worth retrying: 400, 401, 403, 404, 422
    └── LettaUnavailableError    Letta could not say whether an API key is good

Messages say what failed, show the offending value when it is not a secret,
and say what to do next. They never contain a key, a token or message text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SwitchboardError(Exception):
    """Base of every error switchboard raises on purpose; safe to print."""


class ConfigError(SwitchboardError):
    """A setting is missing or malformed."""


class EncryptionKeyError(ConfigError):
    """SWITCHBOARD_ENCRYPTION_KEY is missing or is not a list of Fernet keys."""


class DecryptError(SwitchboardError):
    """A file under data/ cannot be opened with the keys given."""


class InvalidInputError(SwitchboardError):
    """A value given by a user is not acceptable."""


class TimeParseError(InvalidInputError):
    """A phrase cannot be read as an instant or as a recurring schedule."""


class UnknownZoneError(InvalidInputError):
    """A time zone name is not a known IANA zone."""


class LimitError(InvalidInputError):
    """An agent's tool call asks for more than its grant allows."""


class NotFoundError(SwitchboardError):
    """No schedule (or result) with that id exists for this tenant."""


class BusyError(SwitchboardError):
    """A pass is delivering that schedule, or to its agent, right now: try again in a moment."""


class InvalidKeyError(SwitchboardError):
    """Letta refused the key (or it cannot be a key at all)."""


class InvalidGrantError(SwitchboardError):
    """A token that opens no grant (malformed, unknown, revoked or wrong); deliberately says no more."""


class ApiError(SwitchboardError):
    """An error answer of the REST API: status, ``detail`` (a string, or FastAPI-style field errors) and headers."""

    def __init__(self, status: int, detail: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail if isinstance(detail, str) else "invalid request")
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


class TickError(SwitchboardError):
    """The pass delivered messages but could not record the outcome."""


class BackendError(SwitchboardError):
    """The repository that holds data/ could not be read or written."""


class GitError(BackendError):
    """A git command failed."""


class GitHubError(BackendError):
    """The GitHub API refused a request or could not be reached."""


class LettaError(SwitchboardError):
    """Letta answered with an error, or did not answer."""

    def __init__(self, message: str, *, status: int | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class LettaTransientError(LettaError):
    """A failure worth retrying: connection refused, timeout, 429, 502, 503, 504."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
        unreached: bool = False,
    ) -> None:
        super().__init__(message, status=status, detail=detail)
        self.retry_after = retry_after
        #: True when no connection could be made (refused, DNS, connect timeout): the request never left.
        self.unreached = unreached


class LettaPermanentError(LettaError):
    """A failure not worth retrying: 400, 401, 403, 404, 422."""


class LettaUnavailableError(LettaError):
    """Letta could not say whether an API key is good; the message is safe to show."""
