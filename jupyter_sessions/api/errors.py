"""google.rpc.Status errors as exceptions, and back.

One exception class per rpc code a user can meet. Over HTTP the envelope is
``{"error": {"code": <http status>, "message", "status": <code name>, "details"}}``;
inside an Operation it is ``{"code": <rpc code int>, "message", "details"}``.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class Code(enum.IntEnum):
    """google.rpc.Code."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


HTTP_STATUS: dict[Code, int] = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.UNAUTHENTICATED: 401,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
}

# When a body carries no status name, the HTTP status alone picks the most likely code.
_CODE_FOR_HTTP: dict[int, Code] = {
    400: Code.INVALID_ARGUMENT,
    401: Code.UNAUTHENTICATED,
    403: Code.PERMISSION_DENIED,
    404: Code.NOT_FOUND,
    409: Code.ALREADY_EXISTS,
    429: Code.RESOURCE_EXHAUSTED,
    499: Code.CANCELLED,
    500: Code.INTERNAL,
    501: Code.UNIMPLEMENTED,
    502: Code.UNAVAILABLE,
    503: Code.UNAVAILABLE,
    504: Code.DEADLINE_EXCEEDED,
}


class ApiError(Exception):
    """An error with a google.rpc.Status behind it."""

    code: ClassVar[Code] = Code.UNKNOWN

    def __init__(
        self,
        message: str,
        details: list[dict[str, Any]] | None = None,
        *,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])
        self.http_status = http_status if http_status is not None else HTTP_STATUS[self.code]

    def __str__(self) -> str:
        return self.message

    def to_http_json(self) -> dict[str, Any]:
        """The HTTP/JSON error envelope."""
        body: dict[str, Any] = {
            "code": self.http_status,
            "message": self.message,
            "status": self.code.name,
        }
        if self.details:
            body["details"] = self.details
        return {"error": body}

    def to_status_json(self) -> dict[str, Any]:
        """The google.rpc.Status message as it appears in ``Operation.error``."""
        body: dict[str, Any] = {"code": int(self.code), "message": self.message}
        if self.details:
            body["details"] = self.details
        return body

    @staticmethod
    def for_code(code: Code) -> type[ApiError]:
        return _BY_CODE.get(code, Unknown)

    @classmethod
    def from_http(cls, http_status: int, body: Any) -> ApiError:
        """Build the matching exception from an HTTP error response body (any shape)."""
        message = ""
        details: list[dict[str, Any]] = []
        code: Code | None = None
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            message = str(err.get("message") or "")
            raw_details = err.get("details")
            if isinstance(raw_details, list):
                details = [d for d in raw_details if isinstance(d, dict)]
            status = err.get("status")
            if isinstance(status, str) and status in Code.__members__:
                code = Code[status]
        if code is None:
            code = _CODE_FOR_HTTP.get(
                http_status, Code.UNKNOWN if http_status >= 500 else Code.INVALID_ARGUMENT
            )
        if not message:
            message = f"HTTP {http_status}" + (
                f": {body}" if isinstance(body, str) and body else ""
            )
        return ApiError.for_code(code)(message, details, http_status=http_status)

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> ApiError:
        """Build the exception from an ``Operation.error`` Status (numeric code)."""
        try:
            code = Code(int(status.get("code", Code.UNKNOWN)))
        except (TypeError, ValueError):
            code = Code.UNKNOWN
        details = status.get("details")
        return ApiError.for_code(code)(
            str(status.get("message") or code.name),
            details if isinstance(details, list) else None,
        )


class Cancelled(ApiError):
    code = Code.CANCELLED


class Unknown(ApiError):
    code = Code.UNKNOWN


class InvalidArgument(ApiError):
    code = Code.INVALID_ARGUMENT


class DeadlineExceeded(ApiError):
    code = Code.DEADLINE_EXCEEDED


class NotFound(ApiError):
    code = Code.NOT_FOUND


class AlreadyExists(ApiError):
    code = Code.ALREADY_EXISTS


class PermissionDenied(ApiError):
    code = Code.PERMISSION_DENIED


class ResourceExhausted(ApiError):
    code = Code.RESOURCE_EXHAUSTED


class FailedPrecondition(ApiError):
    code = Code.FAILED_PRECONDITION


class Aborted(ApiError):
    code = Code.ABORTED


class OutOfRange(ApiError):
    code = Code.OUT_OF_RANGE


class Unimplemented(ApiError):
    code = Code.UNIMPLEMENTED


class Internal(ApiError):
    code = Code.INTERNAL


class Unavailable(ApiError):
    code = Code.UNAVAILABLE


class DataLoss(ApiError):
    code = Code.DATA_LOSS


class Unauthenticated(ApiError):
    code = Code.UNAUTHENTICATED


_BY_CODE: dict[Code, type[ApiError]] = {
    cls.code: cls
    for cls in (
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
}


def bad_request(field: str, description: str) -> InvalidArgument:
    """An INVALID_ARGUMENT with a google.rpc.BadRequest field violation."""
    return InvalidArgument(
        f"Invalid {field}: {description}" if field else description,
        [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": description}],
            }
        ],
    )
