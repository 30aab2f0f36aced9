"""What a service refuses, as HTTP exceptions: routes let them through, pages turn them into messages."""

from __future__ import annotations

from fastapi import HTTPException


class ServiceError(HTTPException):
    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(self.status, detail)


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    status = 422
