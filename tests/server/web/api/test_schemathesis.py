"""Schemathesis drives every documented operation with generated input.

With an administrator's system-wide key it must never see a 5xx, an
undocumented status code, or a response that breaks the published schema.
Path ids are pointed at real objects half of the time, so the handlers behind
the 404s run too.

One test per database walks every operation itself, rather than one pytest
item per operation: each item would initialise an instance of its own, which
cost more than all the requests together.
"""

from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.core.instance import Instance, operator
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def seeded(instance: Instance, make_user: Callable[..., User]) -> dict[str, str]:
    """Real objects for path parameters: a folder, list, record, user, group,
    permission and feature grant (the key's own admin is never a target, so a
    generated "disable this user" cannot lock the test out)."""
    target = make_user("target")
    op = operator()
    with instance.db.session() as session:
        admin = accounts.find_user(session, "admin")
        user = accounts.get_user(session, target.id)
        plist = vault.create_list(session, op, "Seed/List", create_folders=True)
        record = vault.create_record(
            session,
            op,
            instance.cipher,
            plist,
            vault.RecordInput(title="r", password="p"),
        )
        vault.grant(session, op, plist, Level.ADMIN, user=admin)
        perm = vault.grant(session, op, plist, Level.VIEW, user=user)
        group = accounts.create_group(session, op, "Crew")
        accounts.add_member(session, op, group, user)
        accounts.grant_feature(session, op, "mobile", group=group)
        [feature] = accounts.feature_grants(session, "mobile")
        return {
            "folder_id": plist.folder_id or "",
            "list_id": plist.id,
            "record_id": record.id,
            "user_id": target.id,
            "group_id": group.id,
            "permission_id": perm.id,
            "grant_id": feature.id,
        }


def _fuzz(
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    headers: dict[str, str],
    seeded: dict[str, str],
) -> None:
    strategy = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
        derandomize=True,
        database=None,
    )
    def run(case: schemathesis.Case[Any]) -> None:
        for name, value in list((case.path_parameters or {}).items()):
            if name in seeded and len(str(value)) % 2 == 0:
                case.path_parameters[name] = seeded[name]
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_api_has_no_server_errors_and_keeps_its_schema(
    api_app: FastAPI, admin_headers: dict[str, str], seeded: dict[str, str]
) -> None:
    """No generated request to any operation gets a 5xx or a reply that
    contradicts the published schema."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api_app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 30

    failures = []
    for operation in operations:
        try:
            _fuzz(operation, admin_headers, seeded)
        # Schemathesis reports through a BaseExceptionGroup; collect it (and
        # any error) so one run names every failing operation.
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")

    assert not failures, "\n\n".join(failures)
