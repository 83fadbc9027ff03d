"""RDSEngineVersion on plain templates: a current version passes, a closed one names the versions to use."""

from __future__ import annotations

from typing import Any

from compliance.preflight.rds_engine_version import rds_engine_version
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _instance(version: Any, instance_class: str = "db.t4g.medium", **extra: Any) -> dict[str, Any]:
    return resource(
        "AWS::RDS::DBInstance",
        {"Engine": "postgres", "EngineVersion": version, "DBInstanceClass": instance_class, **extra},
    )


def test_a_current_version_on_a_class_that_runs_it_passes() -> None:
    assert_passes(check(rds_engine_version, {"Database": _instance("17.9")}, "Database"))


def test_a_version_closed_to_new_instances_names_current_ones() -> None:
    verdict = check(rds_engine_version, {"Database": _instance("15.4")}, "Database")
    assert_fails(verdict, "postgres-15.4", "postgres 15.4 is deprecated for new instances in us-west-2; use one of 15.")


def test_a_version_rds_never_offered_names_current_ones() -> None:
    verdict = check(rds_engine_version, {"Database": _instance("17.99")}, "Database")
    assert_fails(verdict, "postgres-17.99", "postgres 17.99 is not a version RDS offers; use one of 17.")


def test_a_class_that_does_not_run_the_version_names_classes_that_do() -> None:
    verdict = check(rds_engine_version, {"Database": _instance("17.9", "db.m1.small")}, "Database")
    assert_fails(verdict, "db.m1.small-postgres-17.9", "use a class such as db.m6i.large")


def test_an_unresolved_version_must_be_written_as_a_literal() -> None:
    verdict = check(rds_engine_version, {"Database": _instance({"Ref": "Version"})}, "Database")
    assert_fails(verdict, "unresolved", "must be literals")


def test_cluster_members_and_other_types_are_not_applicable() -> None:
    member = _instance("15.4", DBClusterIdentifier={"Ref": "Cluster"})
    assert_not_applicable(check(rds_engine_version, {"Member": member}, "Member"))
    stream = resource("AWS::Kinesis::Stream")
    assert_not_applicable(check(rds_engine_version, {"Stream": stream}, "Stream"))
