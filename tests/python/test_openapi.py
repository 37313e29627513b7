"""The OpenAPI document served by a real `baton serve` is valid OpenAPI,
checked by a maintained validator (`openapi-spec-validator`), and lists the
routes a client looks for first. That the document has every route of the
route table, with a description on every response, is checked in Rust
(tests/routes.rs)."""

import json
import urllib.request

from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from baton_server import serve


def test_the_served_openapi_document_is_valid_openapi(tmp_path):
    with serve(tmp_path / "data") as url:
        with urllib.request.urlopen(f"{url}/api/v1/openapi.json", timeout=30) as res:
            assert res.status == 200
            doc = json.load(res)
    assert doc["openapi"].startswith("3.1")
    errors = [str(e).splitlines()[0] for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == [], f"{len(errors)} errors, the first: {errors[:5]}"
    validate(doc)  # the validator's own entry point (version detected from the document)
    for path, method in [
        ("/api/v1/tasks", "post"),
        ("/api/v1/events", "get"),
        ("/api/v1/events/ticket", "post"),
        ("/api/claim-task", "post"),
        ("/metrics", "get"),
        ("/mcp", "post"),
    ]:
        assert method in doc["paths"].get(path, {}), f"{method.upper()} {path} is missing"


def test_the_validator_refuses_a_response_without_a_description():
    """The check above can fail: the defect the issue found (a response
    without `description`) is refused by the same validator."""
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"responses": {"200": {}}}}},
    }
    try:
        validate(doc)
    except OpenAPIValidationError as e:
        assert "description" in str(e)
    else:
        raise AssertionError("a response without a description passed")
