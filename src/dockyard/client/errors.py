"""The client's exceptions.

    ClientError            anything the client reports to a user
    ├── DaemonUnreachable  no daemon listening at the host (connect failed)
    └── APIError           the daemon answered >= 400; `status` and its `message`

`str(APIError)` is Docker's wording: "Error response from daemon: <message>".
"""

from __future__ import annotations


class ClientError(Exception):
    pass


_PROGRAM = "dockyard"  # docker's "Is the docker daemon running?", with our name


class DaemonUnreachable(ClientError):
    def __init__(self, host: str) -> None:
        super().__init__(
            f"Cannot connect to the Dockyard daemon at {host}. Is the {_PROGRAM} daemon running?"
        )
        self.host = host


class APIError(ClientError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Error response from daemon: {message}")
        self.status = status
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404
