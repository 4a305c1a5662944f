"""`/auth/sliding`, `/auth/sliding/refresh`, `/auth/verify`: Webin credentials -> sliding tokens.

As MGnify's API (django-ninja + simple-jwt): a login is checked against ENA's Webin service
(`MGNIFY_ENA_WEBIN_AUTH_URL`, which `mgnify-db serve` sets from the config's
`ena.webin_auth_url`); tokens are `mgnify_db.web.tokens`. Errors are `{"detail": ...}`: 401 for
refused credentials or a bad token, 422 (a list of problems) for a malformed body, 503 when ENA
cannot be asked.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from datasette.utils.asgi import Response
from pydantic import BaseModel, ValidationError

from ...ena.webin import DEFAULT_URL, WebinRejected, WebinUnavailable, check_webin
from .. import tokens
from . import API_ROOT

WEBIN_URL_ENV = "MGNIFY_ENA_WEBIN_AUTH_URL"
View = Callable[[Any, Any], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


class WebinTokenRequest(BaseModel):
    username: str
    password: str


class TokenRequest(BaseModel):
    """`WebinTokenRefreshRequest` and `TokenVerifyInputSchema` of the OpenAPI document."""

    token: str


def webin_url() -> str:
    return os.environ.get(WEBIN_URL_ENV) or DEFAULT_URL


def _detail(status: int, detail: Any, **extra: str) -> Response:
    return Response.json({"detail": detail, **extra}, status=status)


def _token_not_valid() -> Response:
    return _detail(401, tokens.InvalidToken.detail, code=tokens.InvalidToken.code)


def _token_response(token: str) -> Response:
    return Response.json({"token": token, "token_type": tokens.TOKEN_TYPE})


async def _body(request: Any, model: type[M]) -> M | Response:
    """The POSTed JSON body as `model`, or a 422 response listing the problems."""
    raw = await request.post_body()
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        problem = {"type": "json_invalid", "loc": ["body"], "msg": "Invalid JSON body"}
        return _detail(422, [problem])
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = [
            {"type": err["type"], "loc": ["body", *err["loc"]], "msg": err["msg"]}
            for err in e.errors(include_url=False)
        ]
        return _detail(422, problems)


def post_only(view: View) -> View:
    """Datasette routes match every method: answer 405 to anything but POST."""

    @functools.wraps(view)
    async def wrapped(request: Any, datasette: Any) -> Response:
        if request.method != "POST":
            response = _detail(405, "Method not allowed")
            response.headers["Allow"] = "POST"
            return response
        return await view(request, datasette)

    return wrapped


@post_only
async def obtain_sliding(request: Any, datasette: Any) -> Response:
    """Webin username and password -> a new sliding token."""
    body = await _body(request, WebinTokenRequest)
    if isinstance(body, Response):
        return body
    try:
        settings = tokens.TokenSettings.from_env()
    except tokens.TokenConfigError:
        return _detail(503, "API tokens are not enabled on this server")
    try:
        # requests blocks: run it off the event loop (ENA may take seconds to answer)
        webin = await asyncio.to_thread(check_webin, body.username, body.password, url=webin_url())
    except WebinRejected as e:
        return _detail(401, str(e))
    except WebinUnavailable:
        return _detail(503, "ENA's Webin authentication service is unavailable: try again later")
    return _token_response(tokens.issue(webin, settings))


@post_only
async def refresh_sliding(request: Any, datasette: Any) -> Response:
    """A token whose refresh window is open (even if expired) -> a new token."""
    body = await _body(request, TokenRequest)
    if isinstance(body, Response):
        return body
    try:
        return _token_response(tokens.refresh(body.token, tokens.TokenSettings.from_env()))
    except (tokens.InvalidToken, tokens.TokenConfigError):
        return _token_not_valid()


@post_only
async def verify(request: Any, datasette: Any) -> Response:
    """200 `{}` for a valid, unexpired token; 401 otherwise."""
    body = await _body(request, TokenRequest)
    if isinstance(body, Response):
        return body
    try:
        tokens.verify(body.token, tokens.TokenSettings.from_env())
    except (tokens.InvalidToken, tokens.TokenConfigError):
        return _token_not_valid()
    return Response.json({})


def routes() -> list:
    """The three operations, each with and without a trailing slash (as the other API paths)."""
    auth = re.escape(API_ROOT + "/auth")
    return [
        (rf"^{auth}/sliding/?$", obtain_sliding),
        (rf"^{auth}/sliding/refresh/?$", refresh_sliding),
        (rf"^{auth}/verify/?$", verify),
    ]
