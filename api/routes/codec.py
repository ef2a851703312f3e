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

from fastapi import APIRouter, Form, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.attempts import over_https
from api.deps import CODEC_COOKIE, CodecAdmin, SessionDep, SettingsDep, admin_by_token
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
                response = JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
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
    if "json" not in request.headers.get("content-type", ""):
        return None  # the sign-in form
    try:
        return [json_format.MessageToDict(p) for p in _parse(await request.body())]
    except (AppError, RuntimeError):  # not a Payloads message, or a body already read as a form
        return None


def _parse(body: bytes) -> list[Payload]:
    try:
        message = json_format.Parse(body or b"{}", Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, RecursionError):  # not JSON, not UTF-8, nested too deep
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
    actor: CodecAdmin,
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
    actor: CodecAdmin,
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


SIGN_IN_HOURS = 8
_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>unioncard codec</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">{body}</body></html>"""


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in_page() -> HTMLResponse:
    """A form where an admin gives their token once, so the Temporal web UI can decode."""
    return HTMLResponse(
        _PAGE.format(
            body="""<h1>Temporal 界面解码登录</h1>
<p>输入管理员令牌。登录后，在 Temporal 界面的 Codec Server 设置中填写本服务的 /codec 地址，并打开
“Include cross-origin credentials”，界面即可解密显示流程数据（{hours} 小时内有效）。</p>
<form method="post" action="/codec/sign-in"><input name="token" type="password" size="50" autofocus>
<button type="submit">登录</button></form>""".replace("{hours}", str(SIGN_IN_HOURS))
        )
    )


@router.post("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in(request: Request, token: Annotated[str, Form()], session: SessionDep) -> HTMLResponse:
    """Checks the token is an admin's and keeps it in an HttpOnly cookie for /codec only."""
    actor = admin_by_token(session, request, token)
    response = HTMLResponse(_PAGE.format(body=f"<p>已登录（{SIGN_IN_HOURS} 小时）。回到 Temporal 界面刷新即可。</p>"))
    response.set_cookie(
        CODEC_COOKIE, token, max_age=SIGN_IN_HOURS * 3600, path="/codec", httponly=True, samesite="lax",
        secure=over_https(request),
    )  # fmt: skip
    log.info("codec sign-in", admin=actor.user_id)
    return response


@router.post("/sign-out", include_in_schema=False)
def sign_out() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(CODEC_COOKIE, path="/codec")
    return response
