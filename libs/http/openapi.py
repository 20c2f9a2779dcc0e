"""OpenAPI documentation of what the routes really answer.

Litestar documents a route's success response, and for routes with parameters a 400 in its own
`ValidationException` shape. The platform answers every error with the `ErrorBody` envelope
(validation failures as 422), reads upload bodies itself from the stream, and serves files from
some routes, so routes declare what Litestar cannot infer:

- `responses=errors(…)`: every error status the route can answer, each with the envelope; 401
  (missing or bad credentials) is added unless the route is public, 400 (malformed request) and
  503 (a dependency is down) always.
- `operation_class=documented(…)`: a request body the handler parses itself (streamed multipart),
  the media types of a file response, and `security: []` on public routes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from litestar.enums import ParamType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)

from libs.http.errors import ErrorBody

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request: unreadable JSON or multipart body, or a refused file",
    401: "Missing, malformed, expired or revoked credentials",
    403: "Authenticated, but not allowed to do this",
    404: "No such resource (or not the caller's)",
    409: "Conflicts with the resource's current state",
    413: "Body or file over the size limit, or a decompression bomb",
    415: "Unsupported file or media type",
    416: "Range not satisfiable",
    422: "Validation failed",
    429: "Too many requests, or over quota (see `Retry-After`)",
    503: "A dependency (database, NATS, storage, auth) is unavailable; retry after `Retry-After`",
}


def errors(*codes: int, public: bool = False) -> dict[int, ResponseSpec]:
    """The error responses of a route, each with the `ErrorBody` envelope: `codes`, plus 401 unless
    `public`, plus 503, plus 400 (which also replaces the 400 Litestar documents in the shape of its
    `ValidationException`, an answer the platform never gives: validation failures are 422)."""
    wanted = {*codes, 400, 503} | (set() if public else {401})
    return {
        code: ResponseSpec(
            data_container=ErrorBody,
            description=ERROR_DESCRIPTIONS.get(code, "Error"),
            generate_examples=False,
        )
        for code in sorted(wanted)
    }


BINARY = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)


def multipart_body(
    description: str, fields: Mapping[str, Schema] | None = None, *, also: Mapping[str, OpenAPIMediaType] | None = None
) -> RequestBody:
    """A `multipart/form-data` body with a required `file` part and optional text `fields`
    (`also`: other media types the route accepts instead)."""
    form = Schema(
        type=OpenAPIType.OBJECT,
        properties={"file": BINARY, **(fields or {})},
        required=["file"],
    )
    return RequestBody(
        content={"multipart/form-data": OpenAPIMediaType(schema=form), **(also or {})},
        description=description,
        required=True,
    )


def documented(
    *,
    body: RequestBody | None = None,
    files: Mapping[int, Sequence[str]] | None = None,
    headers: Sequence[Parameter] = (),
    optional_body: bool = False,
    public: bool = False,
) -> type[Operation]:
    """An `operation_class` adding what Litestar cannot infer: `body`, a request body the handler
    reads itself; `files`, per status, the media types of a file response (replacing Litestar's
    JSON guess; any JSON for JSON media types); `headers` the handler reads from the request;
    `optional_body`, the body may be left out; `public`, no credentials needed."""

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            if body is not None:
                self.request_body = body
            if optional_body and isinstance(self.request_body, RequestBody):
                self.request_body.required = False
            if headers:
                self.parameters = [*(self.parameters or []), *headers]
            if public:
                self.security = []
            for status, media_types in (files or {}).items():
                current = (self.responses or {}).get(str(status))
                description = current.description if isinstance(current, OpenAPIResponse) else "File"
                self.responses = {
                    **(self.responses or {}),
                    str(status): OpenAPIResponse(
                        description=description,
                        content={
                            media_type: OpenAPIMediaType(schema=_file_schema(media_type)) for media_type in media_types
                        },
                    ),
                }

    return DocumentedOperation


def _file_schema(media_type: str) -> Schema:
    if media_type.endswith(("/json", "+json")):
        return Schema()  # any JSON document
    return BINARY


def header(name: str, description: str) -> Parameter:
    """An optional request header, documented as a string."""
    return Parameter(
        name=name, param_in=ParamType.HEADER, schema=Schema(type=OpenAPIType.STRING), description=description
    )


PublicOperation = documented(public=True)
