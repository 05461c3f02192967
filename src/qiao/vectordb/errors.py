"""Vearch error codes and the error type of the vector database.

The numbers follow Vearch's ``internal/proto/errors.proto`` (v3.5.x). ``msg``
is the lower-cased enum name, optionally followed by ``": "`` and a detail,
as Vearch's REST responses show it.
"""

from __future__ import annotations

from enum import IntEnum

from qiao.errors import QiaoError

__all__ = ["ErrorCode", "VectorDBError"]


class ErrorCode(IntEnum):
    """Vearch error code of a failed request."""

    SUCCESS = 0
    INTERNAL_ERROR = 1
    UNKNOWN_ERROR = 2
    AUTHENTICATION_FAILED = 3
    RECOVER = 4
    TIMEOUT = 5
    PARAM_ERROR = 6
    CONFIG_ERROR = 7
    CANCELED = 8

    MASTER_PS_NOT_ENOUGH_SELECT = 100
    ROUTER_NO_PS_CLIENT = 120
    ROUTER_CALL_PS_RPC_ERR = 121
    PARTITION_DUPLICATE = 140
    PARTITION_NOT_EXIST = 141
    PARTITION_NOT_LEADER = 142
    PARTITION_NO_LEADER = 143
    PARTITION_IS_INVALID = 144
    PARTITION_IS_CLOSED = 145
    PS_NOT_EXIST = 146

    USER_NOT_EXIST = 180
    USER_EXIST = 181
    ROLE_NOT_EXIST = 190
    ROLE_EXIST = 191

    DB_NOT_EXIST = 200
    DB_EXIST = 201
    DB_NOT_EMPTY = 202
    SPACE_EXIST = 220
    SPACE_NOT_EXIST = 221
    ALIAS_NOT_EXIST = 240
    ALIAS_EXIST = 241
    DOCUMENT_NOT_EXIST = 260
    PRIMARY_KEY_IS_INVALID = 261

    FILTER_OPERATOR_TYPE_ERR = 300
    FILTER_CONDITION_OPERATOR_TYPE_ERR = 301

    UPSERT_INVALID_PARAMS = 400

    DELETE_BY_QUERY_SERACH_ERR = 420
    DELETE_BY_QUERY_SEARCH_ID_IS_0 = 421
    DELETE_INVALID_PARAMS_SHOULD_NOT_HAVE_VECTOR_FIELD = 422
    DELETE_INVALID_PARAMS_BOTH_DOCUMENT_IDS_AND_FILTER = 423
    DELETE_INVALID_PARAMS_LENGTH_OF_DOCUMENT_IDS_BEYOND_500 = 424
    DELETE_INVALID_PARAMS_SHOULD_HAVE_ONE_OF_DOCUMENT_IDS_OR_FILTER = 425

    # NOTE: 441, 442 and 444 are the numbers Vearch v3.5.x returns. The enum names
    # come from an older release, where these errors were 440, 441 and 443.
    QUERY_INVALID_PARAMS_LENGTH_OF_DOCUMENT_IDS_BEYOND_500 = 441
    QUERY_INVALID_PARAMS_SHOULD_HAVE_ONE_OF_DOCUMENT_IDS_OR_FILTER = 442
    QUERY_INVALID_PARAMS_BOTH_DOCUMENT_IDS_AND_FILTER = 444

    SEARCH_INVALID_PARAMS_SHOULD_HAVE_VECTOR_FIELD = 460
    # pyvearch's const.py names 461 CODE_SEARCH_ENGINE_ERR; SEARCH_ERROR is an alias.
    SEARCH_ENGINE_ERR = 461
    SEARCH_ERROR = 461

    FORCE_MERGE_BUILD_INDEX_ERR = 500
    FLUSH_ERR = 600

    SERVICE_UNAVAILABLE = 700
    RPC_PARAM_ERROR = 701
    METHOD_NOT_IMPLEMENT = 702
    CREATE_RPCCLIENT_FAILED = 703
    CALL_RPCCLIENT_FAILED = 704


class VectorDBError(QiaoError):
    """A vector database request failed with a Vearch error code.

    ``code`` is the integer Vearch code and ``msg`` the Vearch message: the
    lower-cased enum name, then ``": "`` and the detail when there is one.
    """

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        self.code = int(code)
        self.error_code = ErrorCode(code)
        name = self.error_code.name.lower()
        self.msg = f"{name}: {detail}" if detail else name
        self.detail = detail
        super().__init__(self.msg, key=None)
