"""Users and roles of the server, stored in ``accounts.json`` in the engine folder.

Passwords are stored as PBKDF2-SHA256 hashes. The user ``root`` is not
stored: its password is the server setting ``root_password``, as Vearch
creates root from ``global.signkey``. The built-in ``root`` and
``default*`` roles are constants and cannot be changed or dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from qiao.fileio import write_json_atomic
from qiao.vectordb.errors import ErrorCode, VectorDBError
from qiao.vectordb.server.permissions import BUILTIN_ROLES, PRIVILEGES, RESOURCES, ROOT_ROLE

__all__ = ["ACCOUNTS_FILE", "AccountStore", "validate_account_name"]

logger = logging.getLogger(__name__)

ACCOUNTS_FILE = "accounts.json"
ROOT_USER = "root"
_HASH_ITERATIONS = 200_000
# Characters Vearch's ValidateName rejects in user and role names.
_FORBIDDEN = set("\t\n\v\f\r \x85\xa0\\+-!*/():^[]\"{}~%&'<>?")


def _param_error(detail: str) -> VectorDBError:
    return VectorDBError(ErrorCode.PARAM_ERROR, detail)


def validate_account_name(name: object, kind: str) -> str:
    """Return ``name`` if it is a valid user or role name (Vearch's ValidateName), else raise."""
    if not isinstance(name, str) or not name:
        raise _param_error(f"{kind} name can not be empty string")
    if name[0].isdigit():
        raise _param_error(f"{kind} name : {name} can not start with num")
    if name[0] == "_":
        raise _param_error(f"{kind} name : {name} can not start with _")
    for char in name:
        if char in _FORBIDDEN or ord(char) < 32:
            raise _param_error(f"character {char!r} can not in {kind} name[{name}]")
    if name.lower() == ROOT_USER:
        raise _param_error(f"{kind} name can't be root")
    return name


def _hash_password(password: str, salt: bytes) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _HASH_ITERATIONS)
    return digest.hex()


def _check_privileges(privileges: object) -> dict[str, str]:
    if not isinstance(privileges, dict):
        raise _param_error(f"privileges must map resources to privileges, got {privileges!r}")
    for resource, privilege in privileges.items():
        if resource not in RESOURCES:
            raise _param_error(f"role resource: {resource}, should be {list(RESOURCES)}")
        if privilege not in PRIVILEGES:
            raise _param_error(f"role privilege: {privilege}, should be {list(PRIVILEGES)}")
    return dict(privileges)


class AccountStore:
    """Thread-safe users and roles, written through to ``accounts.json`` on every change."""

    def __init__(self, folder: Path, root_password: str) -> None:
        self._path = Path(folder) / ACCOUNTS_FILE
        self._root_password = root_password
        self._lock = threading.Lock()
        # Verified credentials, keyed by user, as an HMAC under a per-process key, so that
        # Basic auth costs one PBKDF2 run per user and password rather than one per request.
        self._cache_key = os.urandom(32)
        self._verified: dict[str, bytes] = {}
        self._users: dict[str, dict[str, str]] = {}
        self._roles: dict[str, dict[str, str]] = {}
        if self._path.is_file():
            data = json.loads(self._path.read_text(encoding="utf-8"))
            self._users = data.get("users", {})
            self._roles = data.get("roles", {})

    def _save(self) -> None:
        write_json_atomic(self._path, {"users": self._users, "roles": self._roles})

    # Authentication.

    def authenticate(self, name: str, password: str) -> tuple[str, dict[str, str]]:
        """Return ``(role name, privileges)`` of a user whose password matches, else raise."""
        if name == ROOT_USER:
            if not hmac.compare_digest(password.encode(), self._root_password.encode()):
                raise VectorDBError(
                    ErrorCode.AUTHENTICATION_FAILED, "auth header password is invalid"
                )
            return ROOT_ROLE, BUILTIN_ROLES[ROOT_ROLE]
        with self._lock:
            user = self._users.get(name)
            if user is None:
                raise VectorDBError(
                    ErrorCode.AUTHENTICATION_FAILED, f"auth header user {name} is invalid"
                )
            token = hmac.new(self._cache_key, password.encode(), "sha256").digest()
            cached = self._verified.get(name)
            if cached is None or not hmac.compare_digest(cached, token):
                expected = user["password_hash"]
                actual = _hash_password(password, bytes.fromhex(user["salt"]))
                if not hmac.compare_digest(expected, actual):
                    raise VectorDBError(
                        ErrorCode.AUTHENTICATION_FAILED, "auth header password is invalid"
                    )
                self._verified[name] = token
            role_name = user["role_name"]
        return role_name, self._role_privileges(role_name, for_auth=True)

    def authenticate_cached(self, name: str, password: str) -> tuple[str, dict[str, str]] | None:
        """Return what ``authenticate`` returns when that needs no password hashing, else None.

        Root and users whose password was verified before are checked with a
        constant-time comparison of an HMAC, without the lock, so the event
        loop can call it. None means: call ``authenticate`` in a worker thread.
        A wrong root password raises, as in ``authenticate``.
        """
        if name == ROOT_USER:
            return self.authenticate(name, password)
        # Read the user before its cached token: updates drop the token before the user changes.
        user = self._users.get(name)
        cached = self._verified.get(name)
        if user is None or cached is None:
            return None
        token = hmac.new(self._cache_key, password.encode(), "sha256").digest()
        if not hmac.compare_digest(cached, token):
            return None
        role_name = user["role_name"]
        return role_name, self._role_privileges(role_name, for_auth=True)

    def _role_privileges(self, role_name: str, *, for_auth: bool = False) -> dict[str, str]:
        if role_name in BUILTIN_ROLES:
            return dict(BUILTIN_ROLES[role_name])
        privileges = self._roles.get(role_name)
        if privileges is None:
            code = ErrorCode.AUTHENTICATION_FAILED if for_auth else ErrorCode.ROLE_NOT_EXIST
            raise VectorDBError(code, f"role {role_name} not exist")
        return dict(privileges)

    # Users.

    def create_user(self, body: dict[str, Any]) -> None:
        name = validate_account_name(body.get("name"), "User")
        password = body.get("password")
        if not isinstance(password, str) or not password:
            raise _param_error("user password is empty")
        role_name = body.get("role_name")
        if not isinstance(role_name, str) or not role_name:
            raise _param_error("user role_name is empty; name an existing role")
        if role_name.lower() == ROOT_ROLE:
            raise _param_error("user role name can't be root")
        with self._lock:
            if name in self._users:
                raise VectorDBError(ErrorCode.USER_EXIST, f"user {name} exist")
            self._role_privileges(role_name)
            salt = os.urandom(16)
            self._users[name] = {
                "role_name": role_name,
                "salt": salt.hex(),
                "password_hash": _hash_password(password, salt),
            }
            self._save()
        logger.info("created user %s with role %s", name, role_name)

    def update_user(self, body: dict[str, Any]) -> None:
        name = body.get("name")
        if name == ROOT_USER:
            raise _param_error(
                "the password of root is the server's root password setting; restart the "
                "server with another one to change it"
            )
        name = validate_account_name(name, "User")
        password = body.get("password")
        role_name = body.get("role_name")
        if password is None and role_name is None:
            raise _param_error("send password and old_password, or role_name, to update a user")
        with self._lock:
            user = self._users.get(name)
            if user is None:
                raise VectorDBError(ErrorCode.USER_NOT_EXIST, f"user {name} not exist")
            updated = dict(user)
            if password is not None:
                if not isinstance(password, str) or not password:
                    raise _param_error("user password is empty")
                old_password = body.get("old_password")
                old_hash = _hash_password(str(old_password), bytes.fromhex(user["salt"]))
                if not isinstance(old_password, str) or not hmac.compare_digest(
                    old_hash, user["password_hash"]
                ):
                    raise _param_error("old_password is wrong; send the user's current password")
                salt = os.urandom(16)
                updated["salt"] = salt.hex()
                updated["password_hash"] = _hash_password(password, salt)
            if role_name is not None:
                if not isinstance(role_name, str) or role_name.lower() == ROOT_ROLE:
                    raise _param_error("user role name can't be root")
                self._role_privileges(role_name)
                updated["role_name"] = role_name
            self._verified.pop(name, None)
            self._users[name] = updated
            self._save()
        logger.info("updated user %s", name)

    def get_user(self, name: str) -> dict[str, Any]:
        """Return ``{name, role: {name, privileges}}``; passwords are never returned."""
        if name == ROOT_USER:
            return {"name": name, "role": {"name": ROOT_ROLE, "privileges": BUILTIN_ROLES["root"]}}
        with self._lock:
            user = self._users.get(name)
            if user is None:
                raise VectorDBError(ErrorCode.USER_NOT_EXIST, f"user {name} not exist")
            role_name = user["role_name"]
            privileges = self._roles.get(role_name, BUILTIN_ROLES.get(role_name, {}))
            return {"name": name, "role": {"name": role_name, "privileges": dict(privileges)}}

    def list_users(self) -> list[dict[str, Any]]:
        with self._lock:
            names = sorted(self._users)
        return [self.get_user(ROOT_USER)] + [self.get_user(name) for name in names]

    def drop_user(self, name: str) -> None:
        if name == ROOT_USER:
            raise _param_error("user root can't be deleted")
        with self._lock:
            if self._users.pop(name, None) is None:
                raise VectorDBError(ErrorCode.USER_NOT_EXIST, f"user {name} not exist")
            self._verified.pop(name, None)
            self._save()
        logger.info("dropped user %s", name)

    # Roles.

    def create_role(self, body: dict[str, Any]) -> None:
        name = validate_account_name(body.get("name"), "Role")
        privileges = _check_privileges(body.get("privileges") or {})
        with self._lock:
            if name in self._roles or name in BUILTIN_ROLES:
                raise VectorDBError(ErrorCode.ROLE_EXIST, f"role {name} exist")
            self._roles[name] = privileges
            self._save()
        logger.info("created role %s", name)

    def update_role(self, body: dict[str, Any]) -> dict[str, Any]:
        """Grant (set) or revoke (remove) privileges of a role and return the role."""
        name = body.get("name")
        if isinstance(name, str) and name in BUILTIN_ROLES:
            raise _param_error(f"role {name} is built in and can't be changed")
        name = validate_account_name(name, "Role")
        operator = body.get("operator")
        if operator not in ("Grant", "Revoke"):
            raise _param_error(
                f"role privilege operator type : {operator}, should be Grant or Revoke"
            )
        privileges = _check_privileges(body.get("privileges") or {})
        with self._lock:
            current = self._roles.get(name)
            if current is None:
                raise VectorDBError(ErrorCode.ROLE_NOT_EXIST, f"role {name} not exist")
            updated = dict(current)
            for resource, privilege in privileges.items():
                if operator == "Grant":
                    updated[resource] = privilege
                else:
                    updated.pop(resource, None)
            self._roles[name] = updated
            self._save()
        logger.info("%s privileges %s on role %s", operator.lower(), privileges, name)
        return {"name": name, "privileges": updated}

    def get_role(self, name: str) -> dict[str, Any]:
        with self._lock:
            return {"name": name, "privileges": self._role_privileges(name)}

    def list_roles(self) -> list[dict[str, Any]]:
        with self._lock:
            names = list(BUILTIN_ROLES) + sorted(self._roles)
            return [{"name": name, "privileges": self._role_privileges(name)} for name in names]

    def drop_role(self, name: str) -> None:
        if name in BUILTIN_ROLES:
            raise _param_error(f"role {name} is built in and can't be deleted")
        with self._lock:
            if self._roles.pop(name, None) is None:
                raise VectorDBError(ErrorCode.ROLE_NOT_EXIST, f"role {name} not exist")
            self._save()
        logger.info("dropped role %s", name)
