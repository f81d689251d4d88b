"""Schemathesis against the App Server's published OpenAPI document."""

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.core.instance import Instance
from tests.server.mobile.helpers import Phone, World

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    # A request outside the schema (a wrong type, say) must be refused.
    negative_data_rejection,
]


def _schema(instance: Instance) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi(
        "/openapi.json", create_appserver_app(instance)
    )


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str
)
def test_generated_requests_get_no_5xx_and_match_the_schema(
    instance: Instance, world: World, mode: GenerationMode
) -> None:
    """Requests generated from the schema, valid and invalid, never get a 5xx
    and every answer matches the documented status codes and bodies."""
    schema = _schema(instance)

    @given(case=schema.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.validate_response(case.call(), checks=CHECKS)

    run()


def test_successful_answers_match_the_schema(instance: Instance, world: World) -> None:
    """Real pair, full sync, delta sync and logout answers conform to the schema."""
    schema = _schema(instance)
    phone = Phone.new()

    pair = schema["/v1/pair"]["POST"].Case(
        body=phone.pair_body(world.qr), media_type="application/json"
    )
    response = pair.call()
    pair.validate_response(response, checks=CHECKS)
    assert response.status_code == 200
    phone.device_id = response.json()["device_id"]
    phone.credential = response.json()["device_credential"]

    for _ in range(2):
        sync = schema["/v1/sync"]["POST"].Case(
            body=phone.sync_body(), media_type="application/json"
        )
        response = sync.call()
        sync.validate_response(response, checks=CHECKS)
        assert response.status_code == 200
        phone.cursor = response.json()["cursor"]
        phone.credential = response.json()["device_credential"]

    logout = schema["/v1/logout"]["POST"].Case(
        body={
            "protocol_version": 1,
            "device_id": phone.device_id,
            "device_credential": phone.credential,
        },
        media_type="application/json",
    )
    response = logout.call()
    logout.validate_response(response, checks=CHECKS)
    assert response.json() == {"revoked": True}

    health = schema["/health"]["GET"].Case()
    health.validate_response(health.call(), checks=CHECKS)
