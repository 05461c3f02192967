"""Vearch's role model: resources named by URL prefix and the privileges roles hold on them.

Source: ``internal/entity/user.go`` of Vearch v3.5.
"""

from __future__ import annotations

from qiao.vectordb.errors import ErrorCode, VectorDBError

__all__ = [
    "BUILTIN_ROLES",
    "PRIVILEGES",
    "RESOURCES",
    "ROOT_ROLE",
    "check_permission",
    "parse_resource",
]

PRIVILEGES = ("None", "ReadOnly", "WriteOnly", "WriteRead")
RESOURCES = (
    "ResourceAll",
    "ResourceCluster",
    "ResourceServer",
    "ResourcePartition",
    "ResourceDB",
    "ResourceSpace",
    "ResourceDocument",
    "ResourceIndex",
    "ResourceAlias",
    "ResourceUser",
    "ResourceRole",
    "ResourceConfig",
    "ResourceCache",
)
ROOT_ROLE = "root"

BUILTIN_ROLES: dict[str, dict[str, str]] = {
    ROOT_ROLE: {"ResourceAll": "WriteRead"},
    "defaultClusterAdmin": {
        name: "WriteRead"
        for name in (
            "ResourceCluster",
            "ResourceServer",
            "ResourcePartition",
            "ResourceDB",
            "ResourceSpace",
            "ResourceDocument",
            "ResourceIndex",
            "ResourceAlias",
            "ResourceConfig",
            "ResourceUser",
            "ResourceRole",
        )
    },
    "defaultSpaceAdmin": {
        "ResourceSpace": "WriteRead",
        "ResourceDocument": "WriteRead",
        "ResourceIndex": "WriteRead",
        "ResourceAlias": "ReadOnly",
    },
    "defaultDocumentAdmin": {"ResourceDocument": "WriteRead", "ResourceIndex": "WriteRead"},
    "defaultReadDBSpaceEditDocument": {
        "ResourceCluster": "ReadOnly",
        "ResourceDB": "ReadOnly",
        "ResourceSpace": "ReadOnly",
        "ResourceDocument": "WriteRead",
        "ResourceIndex": "WriteRead",
        "ResourceAlias": "ReadOnly",
    },
    "defaultReadSpaceEditDocument": {
        "ResourceSpace": "ReadOnly",
        "ResourceDocument": "WriteRead",
        "ResourceIndex": "WriteRead",
        "ResourceAlias": "ReadOnly",
    },
}

# URL prefixes and the resource each names, checked in order (ParseResources).
_PREFIXES = (
    ("/cluster", "ResourceCluster"),
    ("/servers", "ResourceServer"),
    ("/partitions", "ResourcePartition"),
    ("/dbs", "ResourceDB"),
    ("/backup", "ResourceSpace"),
    ("/document", "ResourceDocument"),
    ("/index", "ResourceIndex"),
    ("/alias", "ResourceAlias"),
    ("/config", "ResourceConfig"),
    ("/users", "ResourceUser"),
    ("/roles", "ResourceRole"),
    ("/cache", "ResourceCache"),
)


def parse_resource(route_path: str, method: str) -> tuple[str, str]:
    """Return ``(resource, privilege needed)`` for a route template such as ``/dbs/{db}``.

    GET needs ReadOnly and other methods WriteOnly, except that
    ``/document/query`` and ``/document/search`` need ReadOnly. Paths under
    ``/dbs`` that contain ``/spaces`` are ResourceSpace.
    """
    privilege = "ReadOnly" if method == "GET" else "WriteOnly"
    for prefix, resource in _PREFIXES:
        if not route_path.startswith(prefix):
            continue
        if resource == "ResourceDB" and "/spaces" in route_path:
            return "ResourceSpace", privilege
        if resource == "ResourceDocument":
            reads = "query" in route_path or "search" in route_path
            return resource, "ReadOnly" if reads else "WriteOnly"
        return resource, privilege
    return "ResourceAll", privilege


def check_permission(
    role_name: str, privileges: dict[str, str], route_path: str, method: str
) -> None:
    """Raise AUTHENTICATION_FAILED unless the role may call ``method route_path``.

    The role ``root`` may call everything. Other roles need the route's
    resource with WriteRead or exactly the privilege needed.

    Vearch v3.5's HasPermissionForResources rejects only a resource that is
    absent from the role and lets a role holding the resource at the wrong
    privilege through, so a ReadOnly role could write. That is a security
    hole, so this check also rejects a wrong privilege.
    """
    if role_name == ROOT_ROLE:
        return
    resource, needed = parse_resource(route_path, method)
    held = privileges.get(resource)
    if held is None:
        raise VectorDBError(
            ErrorCode.AUTHENTICATION_FAILED,
            f"role:{role_name} don't have privilege for resource: {resource}",
        )
    if held != "WriteRead" and held != needed:
        raise VectorDBError(
            ErrorCode.AUTHENTICATION_FAILED,
            f"role:{role_name} has privilege {held} for resource {resource}, "
            f"but {method} {route_path} needs {needed}",
        )
