"""Master routes for users and roles: ``/users`` and ``/roles``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from qiao.vectordb.server.auth import authorize
from qiao.vectordb.server.body import BodyField, bind_body, read_json, request_body
from qiao.vectordb.server.envelope import success
from qiao.vectordb.server.openapi_docs import ENVELOPE_RESPONSES
from qiao.vectordb.server.state import call_engine, get_state

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(authorize)], responses=ENVELOPE_RESPONSES)

_USER = (
    BodyField("name", "string"),
    BodyField("password", "string"),
    BodyField("old_password", "string", "The current password; required to change it."),
    BodyField("role_name", "string"),
)
_ROLE = (
    BodyField("name", "string"),
    BodyField("operator", "string", "Grant sets the listed privileges, Revoke removes them."),
    BodyField("privileges", "object", 'Privilege by resource: {"ResourceDocument": "ReadOnly"}.'),
)


@router.post(
    "/users",
    summary="Create a user",
    openapi_extra=request_body(_USER, ("name", "password", "role_name")),
)
async def create_user(request: Request) -> Any:
    body = bind_body(await read_json(request), _USER)
    accounts = get_state(request).accounts
    await call_engine(request, accounts.create_user, body)
    return success(request, await call_engine(request, accounts.get_user, body["name"]))


@router.put(
    "/users",
    summary="Change a user's password or role",
    openapi_extra=request_body(_USER, ("name",)),
)
async def update_user(request: Request) -> Any:
    body = bind_body(await read_json(request), _USER)
    accounts = get_state(request).accounts
    await call_engine(request, accounts.update_user, body)
    return success(request, await call_engine(request, accounts.get_user, body["name"]))


@router.get("/users", summary="List users")
async def list_users(request: Request) -> Any:
    return success(request, await call_engine(request, get_state(request).accounts.list_users))


@router.get("/users/{name}", summary="Describe a user")
async def get_user(request: Request, name: str) -> Any:
    accounts = get_state(request).accounts
    return success(request, await call_engine(request, accounts.get_user, name))


@router.delete("/users/{name}", summary="Drop a user")
async def drop_user(request: Request, name: str) -> Any:
    await call_engine(request, get_state(request).accounts.drop_user, name)
    return success(request)


@router.post(
    "/roles", summary="Create a role", openapi_extra=request_body(_ROLE, ("name", "privileges"))
)
async def create_role(request: Request) -> Any:
    body = bind_body(await read_json(request), _ROLE)
    accounts = get_state(request).accounts
    await call_engine(request, accounts.create_role, body)
    return success(request, await call_engine(request, accounts.get_role, body["name"]))


@router.put(
    "/roles",
    summary="Grant or revoke privileges of a role",
    openapi_extra=request_body(_ROLE, ("name", "operator", "privileges")),
)
async def update_role(request: Request) -> Any:
    body = bind_body(await read_json(request), _ROLE)
    accounts = get_state(request).accounts
    return success(request, await call_engine(request, accounts.update_role, body))


@router.get("/roles", summary="List roles")
async def list_roles(request: Request) -> Any:
    return success(request, await call_engine(request, get_state(request).accounts.list_roles))


@router.get("/roles/{name}", summary="Describe a role")
async def get_role(request: Request, name: str) -> Any:
    accounts = get_state(request).accounts
    return success(request, await call_engine(request, accounts.get_role, name))


@router.delete("/roles/{name}", summary="Drop a role")
async def drop_role(request: Request, name: str) -> Any:
    await call_engine(request, get_state(request).accounts.drop_role, name)
    return success(request)
