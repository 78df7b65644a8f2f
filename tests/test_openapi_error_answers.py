"""The OpenAPI documents declare the error answers that schemathesis found undeclared: 400 for
a body that is not UTF-8 and 413 for one that is too large, on every operation that takes a
body (intake and notify); and on intake, a 422 that is either FastAPI's list of faults or an
`ErrorBody` (an Idempotency-Key used before for another request) where a key is taken."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from services.intake.app import create_app as create_intake
from shared.settings import Settings

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
FAULTS = {"$ref": "#/components/schemas/HTTPValidationError"}


def document(create: Any, tmp_path: Path) -> dict[str, Any]:
    app = create(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    first: dict[str, Any] = app.openapi()
    assert app.openapi() == first  # documenting the errors is idempotent
    return first


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_intake_declares_400_and_413_wherever_it_takes_a_body(tmp_path: Path) -> None:
    schema = document(create_intake, tmp_path)
    with_body = [(label, op) for label, op in operations(schema) if "requestBody" in op]
    assert len(with_body) >= 20
    for label, operation in with_body:
        for status in ("400", "413"):
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"] == ERROR_BODY, (label, status)
    without_body = [op for _, op in operations(schema) if "requestBody" not in op]
    assert all("413" not in op["responses"] for op in without_body)


def test_intake_422_may_be_a_reused_idempotency_key(tmp_path: Path) -> None:
    schema = document(create_intake, tmp_path)
    keyed = [
        (label, op)
        for label, op in operations(schema)
        if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    ]
    assert {label for label, _ in keyed} >= {
        "POST /api/v1/tickets",
        "POST /api/v1/tickets/{number}/replies",
        "POST /api/v1/tickets/{number}/close",
    }
    for label, operation in keyed:
        invalid = operation["responses"]["422"]
        assert "Idempotency-Key" in invalid["description"], label
        either = invalid["content"]["application/json"]["schema"]
        assert either == {"anyOf": [FAULTS, ERROR_BODY]}, label


def test_the_undecodable_body_answer_is_an_error_body(tmp_path: Path) -> None:
    """The 400 is FastAPI's own answer: it has the `ErrorBody` shape the document says."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", environment="test")
    with TestClient(create_intake(settings), raise_server_exceptions=False) as client:
        response = client.post(
            "/api/v1/tickets",
            content=b'{"subject": "\xff"}',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
    assert isinstance(response.json()["detail"], str)
