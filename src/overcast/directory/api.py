"""The VSD API v6 over HTTP (FastAPI): routes generated from the entity registry.

Wire rules that bambou depends on (vsd-api.md §1–§7): single objects travel as one-element
arrays, empty lists are ``200 []``, bodies on GET/HEAD/DELETE are ignored, every error is the
VSD error JSON, and listing metadata travels in ``X-Nuage-*`` headers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import jsoncodec
from ..metrics import DirectoryMetrics
from .errors import VsdError, bad_request
from .principals import Principal, can_see_audience
from .schema import REGISTRY, ROOT, Entity
from .service import Directory

log = logging.getLogger(__name__)

PREFIX = "/nuage/api/v6"
_JSON_TYPES = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "float": "number",
    "list": "array",
    "dict": "object",
}


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=jsoncodec.dumpb(content),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _error(exc: VsdError) -> Response:
    return _json(exc.body(), exc.status)


class _Wakeup:
    """Lets long-polls sleep until this process commits a change they may see (or a timeout).

    Each waiter names its principal; a commit wakes only the waiters of its audience (the
    operator's always), so a tenant's commits cost other tenants' idle polls nothing."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[asyncio.Future[None], Principal] = {}

    def bind(self, directory: Directory) -> None:
        self._loop = asyncio.get_running_loop()
        directory.listener.subscribe(self._notify)

    def _notify(self, _revision: int, audience: frozenset[str]) -> None:
        if self._loop is not None and self._waiters:
            self._loop.call_soon_threadsafe(self._fire, audience)

    def _fire(self, audience: frozenset[str]) -> None:
        for waiter, principal in list(self._waiters.items()):
            if not waiter.done() and can_see_audience(principal, audience):
                waiter.set_result(None)

    async def wait(self, principal: Principal, timeout: float) -> None:
        if self._loop is None:
            await asyncio.sleep(timeout)
            return
        waiter = self._loop.create_future()
        self._waiters[waiter] = principal
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            del self._waiters[waiter]


def internal_error(exc: BaseException) -> VsdError:
    """What a caller learns of a failure the server did not expect: a reference to find it in
    the log by, never its text (which could carry SQL, parameters, other tenants' data)."""
    reference = secrets.token_hex(6)
    log.error("internal error %s", reference, exc_info=exc)
    return VsdError(500, "Internal error", f"The server failed; reference {reference} in its log.", code=2500)


class _ContainErrors:
    """Answers an unexpected exception with a VSD 500 and keeps the connection.

    Starlette's own handler for ``Exception`` re-raises after answering, and uvicorn then
    closes the keep-alive connection: the client's next request on it was reset (vspk saw a
    connection error). Here the exception ends with the answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # half an answer is out: only closing the connection can end it
            await _error(internal_error(exc))(scope, receive, send)


class _Measured:
    """Times every request into the metrics, labelled by method, the route's template (never
    the concrete path: IDs would make a series per object) and status."""

    def __init__(self, app: Any, metrics: DirectoryMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def tracking_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            self.metrics.requests.labels(scope["method"], _template(scope), str(status)).observe(
                time.perf_counter() - began
            )


def _template(scope: Any) -> str:
    """A request's route as a bounded label: FastAPI's template, or for the generic entity
    routes their shape with the resource names the registry knows (IDs and unknown names as
    placeholders), e.g. ``/nuage/api/v6/enterprises/{id}/domains``."""
    route = scope.get("route")
    if getattr(route, "path", None):
        return str(route.path)
    params = scope.get("path_params") or {}
    if "resource" not in params:
        return "unmatched"

    def name(key: str) -> str:
        value = params.get(key)
        return str(value) if value in REGISTRY.by_resource else "{resource}"

    if "parent_resource" in params:
        return f"{PREFIX}/{name('parent_resource')}/{{id}}/{name('resource')}"
    if "object_id" in params:
        return f"{PREFIX}/{name('resource')}/{{id}}"
    return f"{PREFIX}/{name('resource')}"


def create_app(directory: Directory, *, events_timeout: float = 30.0, worker_threads: int = 64) -> FastAPI:
    """The directory's ASGI application."""
    wakeup = _Wakeup()

    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        import anyio.to_thread

        # Each in-flight request holds a worker thread while it talks to the store.
        anyio.to_thread.current_default_thread_limiter().total_tokens = worker_threads
        wakeup.bind(directory)
        yield

    app = FastAPI(
        title="Overcast directory — VSD API v6",
        version="6",
        description="Nuage VSD REST API v6 compatible policy directory (driven by vspk).",
        lifespan=lifespan,
    )
    app.state.directory = directory
    metrics = DirectoryMetrics(directory.head_revision)
    directory.on_write = metrics.transactions.labels
    directory.on_judged = metrics.compliance.observe

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        body = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(VsdError)
    async def _vsd_error(_request: Request, exc: VsdError) -> Response:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return _error(bad_request(f"Malformed request: {exc.errors()[:1]}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return _error(VsdError(exc.status_code, title, str(exc.detail), code=2000 + exc.status_code))

    app.add_middleware(_ContainErrors)
    app.add_middleware(_Measured, metrics=metrics)

    def authenticate(request: Request) -> Principal:
        principal, _key, _expiry = directory.authenticate(
            request.headers.get("X-Nuage-Organization"), request.headers.get("Authorization")
        )
        return principal

    async def principal_of(request: Request) -> Principal:
        return await run_in_threadpool(authenticate, request)

    async def as_caller(request: Request, work: Any) -> Any:
        """Authenticate and run ``work(principal)`` in one worker-thread hop."""
        return await run_in_threadpool(lambda: work(authenticate(request)))

    async def json_body(request: Request) -> Any:
        raw = await request.body()
        if not raw.strip():
            raise bad_request("The request needs a JSON body.")
        try:
            return jsoncodec.loads_untrusted(raw)
        except (ValueError, UnicodeDecodeError):
            raise bad_request("The request body is not valid JSON.") from None

    def confirmed(request: Request) -> bool:
        return request.query_params.get("responseChoice") == "1"

    def int_header(request: Request, name: str) -> int | None:
        value = request.headers.get(name)
        if value is None or value.strip() == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise bad_request(f"{name} must be an integer.", prop=name) from None

    # --- /me and /events -----------------------------------------------------------------

    @app.get(PREFIX + "/me", tags=["session"], summary="Log in: returns the user with an APIKey")
    async def me(request: Request) -> Response:
        result = await run_in_threadpool(
            directory.login,
            request.headers.get("X-Nuage-Organization"),
            request.headers.get("Authorization"),
        )
        return _json([result])

    @app.get(PREFIX + "/events", tags=["session"], summary="Push channel (long poll)")
    async def events(request: Request, uuid: str | None = None) -> Response:
        principal = await principal_of(request)
        known = await run_in_threadpool(directory.channel_cursor, principal, uuid) if uuid else None
        if uuid is None or known is None:  # first poll, or a channel this server does not know
            channel = await run_in_threadpool(directory.open_channel, principal)
            return _json({"uuid": channel, "events": []})
        cursor: int = known
        loop = asyncio.get_running_loop()
        deadline = loop.time() + events_timeout
        while True:
            found, cursor = await run_in_threadpool(directory.poll_events, principal, uuid, cursor)
            remaining = deadline - loop.time()
            if found or remaining <= 0 or await request.is_disconnected():
                if cursor != known:  # one write per answered poll, none per commit passed over
                    await run_in_threadpool(directory.save_channel, principal, uuid, cursor)
                return _json({"uuid": uuid, "events": found})
            # Woken by this process's commits its caller may see; others' commits (another API
            # process, or a controller writing directly) are found by the next read.
            await wakeup.wait(principal, min(remaining, 1.0))

    @app.post(
        PREFIX + "/compliancechecks", tags=["compliance"], summary="What-if: judge writes, commit nothing"
    )
    async def compliance_check(request: Request) -> Response:
        body = await json_body(request)
        steps = body.get("changes") if isinstance(body, dict) else body
        report = await as_caller(request, lambda principal: directory.what_if(principal, steps))
        return _json(report)

    @app.get(
        PREFIX + "/{parent_resource}/{parent_id}/statistics", tags=["statistics"], summary="VSD statistics"
    )
    async def statistics(request: Request, parent_resource: str, parent_id: str) -> Response:
        params = dict(request.query_params)
        found = await as_caller(
            request, lambda principal: directory.statistics(principal, parent_resource, parent_id, params)
        )
        return _json(found)

    @app.get(
        PREFIX + "/{parent_resource}/{parent_id}/policydecisions",
        tags=["policy"],
        summary="VSD policy decisions",
    )
    async def decisions(request: Request, parent_resource: str, parent_id: str) -> Response:
        found = await as_caller(
            request, lambda principal: directory.policy_decisions(principal, parent_resource, parent_id)
        )
        return _json(found)

    # --- generated entity routes -----------------------------------------------------------

    def list_handler(*, head: bool):  # type: ignore[no-untyped-def]
        async def handler(request: Request) -> Response:
            parent_resource, resource = collection_of(request)
            parent_id = request.path_params.get("parent_id")
            result = await as_caller(
                request,
                lambda principal: directory.listing(
                    principal,
                    parent_resource,
                    parent_id,
                    resource,
                    filter_text=request.headers.get("X-Nuage-Filter"),
                    order_text=request.headers.get("X-Nuage-OrderBy"),
                    page=int_header(request, "X-Nuage-Page"),
                    page_size=int_header(request, "X-Nuage-PageSize"),
                    count_only=head,
                ),
            )
            headers = {
                "X-Nuage-Count": str(result.total),
                "X-Nuage-Page": str(result.page),
                "X-Nuage-PageSize": str(result.page_size),
            }
            for echoed in ("X-Nuage-OrderBy", "X-Nuage-Filter"):
                if request.headers.get(echoed):
                    headers[echoed] = request.headers[echoed]
            if request.headers.get("X-Nuage-Filter"):
                headers["X-Nuage-FilterType"] = "predicate"
            if head:
                return Response(status_code=200, headers=headers)
            return _json(result.items, 200, headers)

        return handler

    def create_handler():  # type: ignore[no-untyped-def]
        async def handler(request: Request) -> Response:
            parent_resource, resource = collection_of(request)
            body = await json_body(request)
            parent_id = request.path_params.get("parent_id")
            if isinstance(body, list):
                results = await as_caller(
                    request,
                    lambda principal: directory.bulk_create(
                        principal, parent_resource, parent_id, resource, body
                    ),
                )
                failures = sum(1 for status, _ in results if status >= 300)
                payload = {
                    "response": [{"status": status, "data": data} for status, data in results],
                    "responseMetadata": {"success": len(results) - failures, "failure": failures},
                }
                return _json(payload, 207 if failures else 201)
            created = await as_caller(
                request,
                lambda principal: directory.create(principal, parent_resource, parent_id, resource, body),
            )
            return _json([created], 201)

        return handler

    def assign_handler():  # type: ignore[no-untyped-def]
        async def handler(request: Request) -> Response:
            parent_resource, resource = collection_of(request)
            body = await json_body(request)
            await as_caller(
                request,
                lambda principal: directory.assign(
                    principal, parent_resource, request.path_params["parent_id"], resource, body
                ),
            )
            return Response(status_code=204)

        return handler

    def get_handler():  # type: ignore[no-untyped-def]
        async def handler(request: Request) -> Response:
            resource = request.path_params["resource"]
            obj = await as_caller(
                request,
                lambda principal: directory.get(principal, resource, request.path_params["object_id"]),
            )
            return _json([obj])

        return handler

    def update_handler():  # type: ignore[no-untyped-def]
        async def handler(request: Request) -> Response:
            resource = request.path_params["resource"]
            body = await json_body(request)
            updated = await as_caller(
                request,
                lambda principal: directory.update(
                    principal,
                    resource,
                    request.path_params["object_id"],
                    body,
                    confirmed=confirmed(request),
                ),
            )
            return _json([updated])

        return handler

    def delete_handler():  # type: ignore[no-untyped-def]
        async def handler(request: Request) -> Response:
            resource = request.path_params["resource"]
            await as_caller(
                request,
                lambda principal: directory.delete(
                    principal,
                    resource,
                    request.path_params["object_id"],
                    confirmed=confirmed(request),
                ),
            )
            return Response(status_code=204)

        return handler

    # Three path shapes exist (vsd-api.md §3): /<res>, /<res>/<id>, /<res>/<id>/<childres>. They
    # are routed generically and dispatched by dictionary lookup in the service; the OpenAPI
    # document below lists every concrete path the registry serves.
    def collection_of(request: Request) -> tuple[str, str]:
        params = request.path_params
        return params.get("parent_resource", ROOT), params["resource"]

    collection = PREFIX + "/{resource}"
    single = PREFIX + "/{resource}/{object_id}"
    nested = PREFIX + "/{parent_resource}/{parent_id}/{resource}"
    for path in (collection, nested):
        app.add_route(path, list_handler(head=False), methods=["GET"], include_in_schema=False)
        app.add_route(path, list_handler(head=True), methods=["HEAD"], include_in_schema=False)
        app.add_route(path, create_handler(), methods=["POST"], include_in_schema=False)
    app.add_route(nested, assign_handler(), methods=["PUT"], include_in_schema=False)
    app.add_route(single, get_handler(), methods=["GET"], include_in_schema=False)
    app.add_route(single, update_handler(), methods=["PUT"], include_in_schema=False)
    app.add_route(single, delete_handler(), methods=["DELETE"], include_in_schema=False)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema["paths"].update(_registry_paths())
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for entity in REGISTRY.entities.values():
            properties: dict[str, Any] = {}
            for attr in entity.attrs.values():
                prop: dict[str, Any] = {"type": _JSON_TYPES[attr.type]}
                if attr.choices:
                    prop["enum"] = list(attr.choices)
                properties[attr.name] = {"anyOf": [prop, {"type": "null"}]}
            components[entity.rest_name] = {
                "type": "object",
                "properties": properties,
                "required": list(entity.required),
            }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _registry_paths() -> dict[str, Any]:
    """OpenAPI path items for every relation and entity the registry serves."""

    def ref(entity: Entity, *, bulk: bool = False) -> dict[str, Any]:
        one = {"$ref": f"#/components/schemas/{entity.rest_name}"}
        schema = {"oneOf": [one, {"type": "array", "items": one}]} if bulk else one
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def op(summary: str, tag: str, status: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "summary": summary,
            "tags": [tag],
            "responses": {status: {"description": "success"}, "default": {"description": "VSD error"}},
        }
        if body is not None:
            operation["requestBody"] = body
        return operation

    def parameters(*names: str) -> list[dict[str, Any]]:
        return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]

    paths: dict[str, Any] = {}
    for (parent, resource), relation in sorted(REGISTRY.relations.items()):
        entity = REGISTRY.entity(relation.child)
        if parent == ROOT:
            path, tag, params = f"{PREFIX}/{resource}", resource, []
        else:
            parent_resource = REGISTRY.entity(parent).resource
            path, tag = f"{PREFIX}/{parent_resource}/{{parent_id}}/{resource}", parent_resource
            params = parameters("parent_id")
        item: dict[str, Any] = {
            "get": op(f"List {resource}", tag, "200"),
            "head": op(f"Count {resource} (X-Nuage-Count)", tag, "200"),
        }
        if relation.kind == "owner" or (relation.kind == "root" and ROOT in entity.owners):
            item["post"] = op(
                f"Create {entity.rest_name} (or a bulk array)", tag, "201", ref(entity, bulk=True)
            )
        if relation.kind == "member":
            ids = {"type": "array", "items": {"type": "string"}}
            item["put"] = op(
                f"Replace the assigned {resource}",
                tag,
                "204",
                {"required": True, "content": {"application/json": {"schema": ids}}},
            )
        if params:
            item["parameters"] = params
        paths[path] = item
    for entity in REGISTRY.entities.values():
        paths[f"{PREFIX}/{entity.resource}/{{object_id}}"] = {
            "parameters": parameters("object_id"),
            "get": op(f"Get one {entity.rest_name}", entity.resource, "200"),
            "put": op(f"Update a {entity.rest_name}", entity.resource, "200", ref(entity)),
            "delete": op(f"Delete a {entity.rest_name} (?responseChoice=1 confirms)", entity.resource, "204"),
        }
    return paths
