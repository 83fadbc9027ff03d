"""ReservedConcurrency on plain templates: a function reserves no concurrency the account may not have."""

from __future__ import annotations

from typing import Any

from compliance.preflight.reserved_concurrency import reserved_concurrency
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _function(**properties: Any) -> dict[str, dict[str, Any]]:
    return {"Function": resource("AWS::Lambda::Function", {"Runtime": "python3.12", **properties})}


def test_a_function_without_a_reservation_is_not_applicable_and_one_switched_off_passes() -> None:
    assert_not_applicable(check(reserved_concurrency, _function(), "Function"))
    assert_passes(check(reserved_concurrency, _function(ReservedConcurrentExecutions=0), "Function"))


def test_a_reservation_says_to_remove_it_or_size_it_per_account() -> None:
    verdict = check(reserved_concurrency, _function(ReservedConcurrentExecutions=2), "Function")
    assert_fails(
        verdict,
        "2",
        "reserves 2 concurrent executions",
        "new accounts often have a total quota of 10",
        "remove the reservation and throttle at the caller, or set it per account in configuration",
    )


def test_other_types_are_not_applicable() -> None:
    queue = resource("AWS::SQS::Queue", {"ReservedConcurrentExecutions": 2})
    assert_not_applicable(check(reserved_concurrency, {"Queue": queue}, "Queue"))
