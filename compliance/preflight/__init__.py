"""Preflight: our own rule pack, for what cdk-nag's packs do not check — will it deploy?

cdk-nag's packs check compliance. Every failure of the report this project was born
from was a deployability failure found minutes into a CloudFormation rollback: a
PostgreSQL version the region no longer offered, a key CloudWatch Logs could not
use, a secret that did not exist in a fresh account, a host passed as a secret, a
stream name that collided with a previous deployment. Each rule module catches one
of those at synth. Each rule is a pure function of one synthesized resource (plus
facts from cfn-lint's data and a read-only index of the app) that returns a `Verdict`
whose message says what is wrong and what to write instead.

`RULES` is what the pack (`compliance.preflight.pack.PreflightChecks`, a CDK validation plugin)
evaluates and the compliance catalogue lists. `AssemblyRule`s read what no resource holds (a
stack's manifest entry, the buildspec files CDK Pipelines writes); the synth driver runs them on
the assembly directory.

Nothing here imports the CDK or cdk-nag: the pack that runs the rules in the synth
(`compliance.preflight.pack`) imports this registry, never the other way round, so
reading or testing rules does not start the jsii runtime.
"""

from __future__ import annotations

from compliance.preflight import (
    alarm_actions,
    backup_plan_frequency,
    codebuild_logging,
    codebuild_plaintext_credentials,
    codebuild_source_credentials,
    container_memory_limit,
    container_secrets,
    default_security_group_closed,
    delete_with_contents,
    elasticache_engine_version,
    eventbridge_key_condition,
    internet_gateway_route,
    kms_blocked_actions,
    log_destination_object_lock,
    log_group_retention,
    log_retention_fedramp,
    logs_key_policy,
    master_secret_grant,
    multi_region_trail,
    plaintext_hop,
    rds_engine_version,
    read_only_event_rule,
    reserved_concurrency,
    retained_physical_name,
    s3_object_lock,
    self_contained_stage,
    service_principal_condition,
    stack_property_ignored_by_pipeline,
    trail_s3_data_events,
    trust_outside_accounts,
    trust_outside_services,
    unique_physical_name,
    unpinned_tool_install,
)
from compliance.preflight.base import PACK, AssemblyRule, Context, PreflightRule, Verdict

RULES: tuple[PreflightRule, ...] = (
    rds_engine_version.RULE,
    elasticache_engine_version.RULE,
    logs_key_policy.RULE,
    unique_physical_name.RULE,
    self_contained_stage.RULE,
    container_secrets.RULE,
    retained_physical_name.RULE,
    reserved_concurrency.RULE,
    service_principal_condition.RULE,
    unpinned_tool_install.RULE,
    log_destination_object_lock.RULE,
    eventbridge_key_condition.RULE,
    read_only_event_rule.RULE,
    delete_with_contents.RULE,
    trust_outside_accounts.RULE,
    trust_outside_services.RULE,
    master_secret_grant.RULE,
    plaintext_hop.RULE,
    # Twins of the account baseline's AWS Config rules that no other pack checks (compliance/twins.py).
    trail_s3_data_events.RULE,
    multi_region_trail.RULE,
    alarm_actions.RULE,
    log_group_retention.RULE,
    container_memory_limit.RULE,
    backup_plan_frequency.RULE,
    kms_blocked_actions.RULE,
    internet_gateway_route.RULE,
    s3_object_lock.RULE,
    default_security_group_closed.RULE,
    codebuild_plaintext_credentials.RULE,
    codebuild_logging.RULE,
    codebuild_source_credentials.RULE,
    # FedRAMP's value of a control's parameter, where AWS Config's twin judges AWS's default instead.
    log_retention_fedramp.RULE,
)

# Assembly rules the synth driver runs on every assembly (`scripts/synth.py`).
ASSEMBLY_RULES: tuple[AssemblyRule, ...] = (
    unpinned_tool_install.ASSEMBLY_RULE,
    stack_property_ignored_by_pipeline.ASSEMBLY_RULE,
)

__all__ = [
    "ASSEMBLY_RULES",
    "PACK",
    "RULES",
    "AssemblyRule",
    "Context",
    "PreflightRule",
    "Verdict",
]
