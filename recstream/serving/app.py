"""The ASGI app of ``recstream serve`` (FastAPI): user, batch, item and popular reads over the
configured store through the reader API, health, Prometheus metrics, OpenAPI and a page for people.

Handlers stay thin: parsing and response shapes are in ``views``, the page in ``ui``, store access
(thread pool, timeout, reconnect) in ``store_gateway``.
"""
from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from typing import Optional

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from recstream.serving import ui, views
from recstream.serving.body_limit import BodyLimitMiddleware
from recstream.serving.metrics import MetricsMiddleware, ServeMetrics
from recstream.serving.settings import ServeSettings, key_matches
from recstream.serving.store_gateway import StoreGateway, StoreTimeout, StoreUnavailable

log = logging.getLogger("recstream.serve")
MAX_ID_CHARS = 1024
JSON = "application/json"


class ApiError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status, self.reason = status, reason


class BatchGet(BaseModel):
    user_ids: list[str] = Field(..., description="raw user ids (pseudonymised by the server when privacy is on)")
    fields: Optional[str] = Field(None, description="comma-separated parts, as ?fields= of GET /users/{id}")
    k: Optional[int] = Field(None, description="cut each top-K to at most k items")
    n: Optional[int] = Field(None, description="only the last n events of each sequence")
    as_of: Optional[str] = Field(None, description="as ?as_of= of GET /users/{id}: now (default), event, "
                                                   "epoch ms or ISO-8601")


def _json(value, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type=JSON)


def _now_ms() -> int:
    return int(time.time() * 1000)


def create_app(cfg, settings: ServeSettings | None = None, gateway: StoreGateway | None = None) -> FastAPI:
    """The app over ``cfg``'s store (a loaded ``RecstreamConfig``). Reads the API key and, with
    ``privacy.pseudonymize``, the pseudonym key now: a server that cannot protect ids does not start."""
    from udfs.privacy import Pseudonymizer

    settings = settings or ServeSettings()
    metrics = ServeMetrics()
    api_key = settings.api_key()
    pseudonymize = Pseudonymizer.from_config(cfg.privacy)
    gateway = gateway or StoreGateway(cfg, settings.store_threads, settings.request_timeout_s, metrics)

    def store_key(raw: str) -> str:
        if not raw or len(raw) > MAX_ID_CHARS:
            raise ApiError(400, f"a user id must have 1 to {MAX_ID_CHARS} characters")
        return pseudonymize(raw) if pseudonymize else raw

    async def require_key(request: Request) -> None:  # async: a sync dependency would cost a thread hop
        if api_key is None:
            return
        given = request.headers.get("x-api-key")
        if given is None:
            auth = request.headers.get("authorization", "")
            given = auth[7:] if auth[:7].lower() == "bearer " else None
        if not key_matches(api_key, given):
            raise ApiError(401, "missing or wrong API key (header X-API-Key or Authorization: Bearer)")

    @asynccontextmanager
    async def lifespan(_app):
        yield
        gateway.close()

    app = FastAPI(
        title="recstream feature server", version="1",
        description="Per-user features, interest embedding and top-K scores written by the recstream job, "
                    "read from its online store (docs/serving.md).",
        docs_url=None, redoc_url=None, lifespan=lifespan)
    # room for max_batch ids of the longest allowed length, quoted, plus the other members
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_batch * (MAX_ID_CHARS * 6 + 4) + 4096)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.metrics = metrics
    app.state.gateway = gateway
    guarded = [Depends(require_key)]
    errors = {400: {"description": "bad input (the reason in `error`)"}, 401: {"description": "API key missing"},
              404: {"description": "not found"}, 503: {"description": "store unreachable"},
              504: {"description": "store too slow"}}

    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        return _json({"error": exc.reason}, exc.status)

    @app.exception_handler(views.BadInput)
    async def _bad_input(_request, exc):
        return _json({"error": str(exc)}, 400)

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_request, exc):
        return _json({"error": str(exc)}, 503)

    @app.exception_handler(StoreTimeout)
    async def _timeout(_request, exc):
        return _json({"error": str(exc)}, 504)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, exc: RequestValidationError):
        reasons = [("/".join(str(p) for p in e.get("loc", ()) if p != "body") or "body") + ": "
                   + e.get("msg", "invalid") for e in exc.errors()]
        return _json({"error": "; ".join(reasons) or "invalid request"}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request, exc: StarletteHTTPException):
        return _json({"error": exc.detail if isinstance(exc.detail, str) else "error"}, exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(_request, exc: Exception):
        log.error("internal error: %s: %s", type(exc).__name__, exc)
        return _json({"error": "internal error"}, 500)

    @app.get("/users/{user_id:path}", dependencies=guarded, responses=errors,
             summary="A user's features, sequence, embedding, top-K, model version, drift and staleness")
    async def get_user(user_id: str,
                       fields: Optional[str] = Query(None, description="comma-separated: " + ",".join(views.FIELDS)),
                       as_of: Optional[str] = Query(None, description="time the window counts and decayed "
                                                    "values are evaluated at: now (default), event (as stored, "
                                                    "the user's newest event), or epoch ms / ISO-8601 not "
                                                    "before the stored state's event time"),
                       k: Optional[int] = Query(None, description="cut the top-K to k items"),
                       n: Optional[int] = Query(None, description="only the last n events of the sequence")):
        wanted = views.parse_fields(fields)
        as_of_ms = views.parse_time_ms(as_of)
        views.check_k(k)
        views.check_k(n, "n")
        key = store_key(user_id)
        # the batch read of one user: one query (features joined with scores), JSON passed through
        state = (await gateway.call("user", lambda r, ks: r.get_user_states(ks, raw_json=True, as_of="event"),
                                    [key])).get(key)
        if state is None:
            raise ApiError(404, "unknown user")
        views.check_as_of(state, as_of_ms)
        return _json(views.user_view(state, wanted, _now_ms(), as_of_ms, k, n))

    @app.post("/users:batchGet", dependencies=guarded, responses={**errors, 413: {"description": "too many users"}},
              summary="Many users in one call and one store round trip; answers in request order (null: unknown)")
    async def batch_get(body: BatchGet):
        if len(body.user_ids) > settings.max_batch:
            raise ApiError(413, f"{len(body.user_ids)} users asked for; at most {settings.max_batch} per batch")
        wanted = views.parse_fields(body.fields)
        views.check_k(body.k)
        views.check_k(body.n, "n")
        as_of = views.parse_time_ms(body.as_of)
        keys = [store_key(u) for u in body.user_ids]
        metrics.batch_users.observe(len(keys))
        states = await gateway.call("batch", lambda r, ks: r.get_user_states(ks, raw_json=True, as_of="event"),
                                    keys) if keys else {}
        now = _now_ms()
        users = [views.user_view(states[key], wanted, now, as_of, body.k, body.n) if key in states else None
                 for key in keys]
        return _json({"users": users, "found": sum(u is not None for u in users),
                      "missing": [i for i, u in enumerate(users) if u is None]})

    @app.get("/items/{item_id:path}", dependencies=guarded, responses=errors, summary="An item's features")
    async def get_item(item_id: str):
        if not item_id or len(item_id) > MAX_ID_CHARS:
            raise ApiError(400, f"an item id must have 1 to {MAX_ID_CHARS} characters")
        item = await gateway.call("item", lambda r, i: r.get_item(i), item_id)
        if item is None:
            raise ApiError(404, "unknown item")
        return _json(item)

    @app.get("/popular", dependencies=guarded, responses=errors, summary="The most popular items of a scope")
    async def popular(scope: str = Query("global", description="'global' or 'category:<name>'"),
                      k: Optional[int] = Query(None, description="at most k items")):
        views.parse_scope(scope)
        views.check_k(k)
        pop = await gateway.call("popular", lambda r, s, kk: r.get_popular_items(s, k=kk), scope, k)
        if pop is None:
            raise ApiError(404, f"no popular list for scope {scope!r}")
        return _json(pop)

    @app.get("/healthz", summary="200 when the store answers a read, 503 otherwise")
    async def healthz():
        await gateway.call("health", lambda r: r.get_popular_items("global"))
        return _json({"status": "ok", "store": cfg.store.kind})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus():
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    async def docs_page():
        return HTMLResponse(ui.render_docs(app.openapi()))

    @app.get("/ui/users/{user_id:path}", dependencies=guarded, include_in_schema=False,
             response_class=HTMLResponse)
    async def user_page(user_id: str, as_of: Optional[str] = Query(None)):
        as_of_ms = views.parse_time_ms(as_of)
        state = await gateway.call("user", lambda r, key: r.get_user_state(key, as_of="event"), store_key(user_id))
        if state is None:
            return HTMLResponse(ui.render_not_found(), status_code=404)
        views.check_as_of(state, as_of_ms)
        return HTMLResponse(ui.render_user(views.user_view(state, views.FIELDS, _now_ms(), as_of_ms)))

    return app
