"""Property-based requests from the server's own OpenAPI document (schemathesis).

Every response must be Vearch's JSON envelope. A 5xx response passes only
when it carries a Vearch error code that Vearch itself answers with 500,
such as 6 for an unknown space on a document call; code 1 with a 5xx status
comes from the catch-all handler and marks a bug.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from vectordb_server import start_server

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

# Upper bound of the whole run; operations left when it runs out are skipped.
TIME_BUDGET_SECONDS = 60
EXAMPLES_PER_OPERATION = 15
AUTH_HEADER = {"Authorization": "Basic " + base64.b64encode(b"root:secret").decode()}
# Routes that do not answer with the envelope: FastAPI's documentation pages.
NOT_VEARCH = ("/openapi.json", "/docs", "/redoc")


def _check_response(label: str, status: int, body: object, failures: list[str]) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        failures.append(f"{label}: HTTP {status} without a Vearch envelope: {body!r:.200}")
        return
    if status >= 500 and body["code"] in (1, 2):
        failures.append(f"{label}: HTTP {status} from an unhandled error: {body.get('msg')}")
    if status == 200 and body["code"] != 0:
        failures.append(f"{label}: HTTP 200 with code {body['code']}")


def _exercise(operation: object, url: str, failures: list[str]) -> None:
    label = f"{operation.method.upper()} {operation.path}"  # type: ignore[attr-defined]
    # Valid requests by the schema, and requests that break it (wrong types, missing fields).
    strategy = operation.as_strategy() | operation.as_strategy(  # type: ignore[attr-defined]
        schemathesis.GenerationMode.NEGATIVE
    )

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def exercise(case: object) -> None:
        response = case.call(base_url=url, headers=AUTH_HEADER)  # type: ignore[attr-defined]
        try:
            body = response.json()
        except ValueError:
            body = response.text
        _check_response(label, response.status_code, body, failures)

    exercise()


@pytest.mark.slow
def test_no_server_errors_from_generated_requests(tmp_path: Path) -> None:
    url, stop = start_server(tmp_path / "db")
    failures: list[str] = []
    started = time.monotonic()
    tested = 0
    try:
        schema = schemathesis.openapi.from_url(url + "/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path in NOT_VEARCH:
                continue
            if time.monotonic() - started > TIME_BUDGET_SECONDS:
                break
            _exercise(operation, url, failures)
            tested += 1
    finally:
        stop()
    assert tested >= 30, f"only {tested} operations ran within {TIME_BUDGET_SECONDS} s"
    assert not failures, "\n".join(sorted(set(failures))[:20])
