"""Property-based fuzzing of every API operation from the OpenAPI schema (schemathesis).

Requests are generated from the schema with an admin token; each response must not be a server
error and must match the documented schema. Bounded (few examples per operation) to stay fast.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from pydantic import SecretStr

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis (test dependency)")
checks = schemathesis.checks

from api.app import create_app
from api.testing import memory_context
from tests.api.conftest import auth

pytestmark = [pytest.mark.slow]


# The schema does not depend on the data: build the app once at import, give it a seeded context in a fixture.
APP = create_app(memory_context())
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP).exclude(path="/api/v1/events")  # endless stream


# What must hold for every generated request. Left out: checks that need schemathesis to drive auth
# itself (ignored_auth, missing_required_header: we always send a valid token; authentication has its
# own test in test_auth.py), and positive_data_acceptance (business rules the schema cannot express,
# e.g. "bearing balls must fit on the pitch circle", are rightly answered 400/409 with a message).
CHECKS = [
    checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
    checks.response_schema_conformance, checks.response_headers_conformance, checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def admin_token(tmp_path_factory):
    from api.testing import context_for
    from ingest.deadletter import DeadLetterStore
    from tests.api.conftest import _with_services, make_tokens
    from tests.api.scenario import seed

    tmp = tmp_path_factory.mktemp("fuzz")
    ctx = _with_services(context_for(f"sqlite:///{tmp / 'fuzz.db'}"), tmp)
    ctx.deadletters = DeadLetterStore(ctx.session_factory)
    # the inbound complaint webhook is configured (unsigned fuzz requests get 400), no SMTP is listening
    ctx.alerts.config = ctx.alerts.config.model_copy(update={"complaint_webhook_secret": SecretStr("fuzz")})
    seed(ctx)
    APP.state.context = ctx
    yield make_tokens(ctx)["admin"]
    ctx.store.close()


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, admin_token):
    case.headers = {**(case.headers or {}), **auth(admin_token)}
    case.call_and_validate(checks=CHECKS)
