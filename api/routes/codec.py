"""The codec endpoint: Temporal's web UI and CLI decode the service's encrypted payloads here.

Temporal's codec server protocol: ``POST /codec/decode`` and ``POST /codec/encode`` take and
answer a ``Payloads`` message in protobuf JSON (``{"payloads": [{"metadata": {...}, "data":
"<base64>"}]}``), the namespace in ``X-Namespace``. Only admins may call them. The web UI calls
from its own origin, so these routes answer CORS (the preflight too) for the configured UI
origins, refusals included: a refusal also hands the caller's payloads back unchanged, so the
UI shows them still encrypted instead of empty.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import AdminActor, SettingsDep
from core.codec import CodecError, CodecNotConfigured, EncryptionCodec, payload_codec
from core.errors import AppError, Forbidden, Unavailable
from core.logging import get_logger
from core.settings import Settings

log = get_logger("api.codec")
_ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"
_PROTOCOL_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "payloads": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                                "data": {"type": "string", "format": "byte"},
                            },
                        },
                    }
                },
            }
        }
    },
    "required": True,
}


class CodecRoute(APIRoute):
    """Adds the UI's CORS headers to every answer, refusals included (a browser hides an answer
    without them, and the UI would show nothing)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_cors(request: Request) -> Response:
            try:
                response = await handler(request)
            except AppError as exc:
                body: dict[str, Any] = exc.body()
                given = await _given_payloads(request)
                if given is not None:
                    body["payloads"] = given
                response = JSONResponse(body, status_code=exc.status_code)
            _allow_origin(request, response)
            return response

        return with_cors


router = APIRouter(prefix="/codec", tags=["codec"], route_class=CodecRoute)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _allow_origin(request: Request, response: Response) -> None:
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") in _settings(request).codec_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"


async def _given_payloads(request: Request) -> list[Any] | None:
    """The caller's payloads as sent, when the body is a Payloads message."""
    try:
        return [json_format.MessageToDict(p) for p in _parse(await request.body())]
    except AppError:
        return None


def _parse(body: bytes) -> list[Payload]:
    try:
        message = json_format.Parse(body or b"{}", Payloads(), ignore_unknown_fields=True)
    except json_format.ParseError:
        raise AppError("invalid_payloads", "请求内容应为 Temporal Payloads 的 JSON 形式") from None
    return list(message.payloads)


def _codec(settings: Settings, namespace: str | None) -> EncryptionCodec | None:
    if namespace and namespace != settings.temporal_namespace:
        raise AppError(
            "unknown_namespace", f"此服务只解码命名空间 {settings.temporal_namespace}", details={"namespace": namespace}
        )
    try:
        return payload_codec(settings)
    except CodecNotConfigured:
        raise Unavailable("codec_not_configured", "未配置载荷加密密钥") from None


def _answer(payloads: list[Payload]) -> JSONResponse:
    return JSONResponse({"payloads": [json_format.MessageToDict(p) for p in payloads]})


@router.post("/decode", openapi_extra={"requestBody": _PROTOCOL_BODY})
async def decode(
    request: Request,
    actor: AdminActor,
    settings: SettingsDep,
    x_namespace: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Decrypt payloads (admin); payloads that are not encrypted come back as they are."""
    payloads = _parse(await request.body())
    codec = _codec(settings, x_namespace)
    try:
        clear = await codec.decode(payloads) if codec else payloads
    except CodecError as exc:
        raise AppError("undecodable_payload", "载荷无法解密", status=422, details={"reason": str(exc)}) from None
    log.info("codec decode", payloads=len(payloads))
    return _answer(clear)


@router.post("/encode", openapi_extra={"requestBody": _PROTOCOL_BODY})
async def encode(
    request: Request,
    actor: AdminActor,
    settings: SettingsDep,
    x_namespace: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Encrypt payloads with the active key (admin)."""
    payloads = _parse(await request.body())
    codec = _codec(settings, x_namespace)
    log.info("codec encode", payloads=len(payloads))
    return _answer(await codec.encode(payloads) if codec else payloads)


@router.options("/decode", include_in_schema=False)
@router.options("/encode", include_in_schema=False)
async def preflight(request: Request, settings: SettingsDep) -> Response:
    """CORS preflight of the web UI: its origin may post JSON with a token and a namespace."""
    origin = (request.headers.get("origin") or "").rstrip("/")
    if origin not in settings.codec_origins:
        raise Forbidden("origin_not_allowed", "此来源不能调用编解码接口", details={"origin": origin})
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        },
    )
