"""Preflight: our own rule pack, for what cdk-nag's packs do not check — will it deploy?

cdk-nag's packs check compliance. Every failure of the report this project was born
from was a deployability failure found minutes into a CloudFormation rollback: a
PostgreSQL version the region no longer offered, a key CloudWatch Logs could not
use, a secret that did not exist in a fresh account, a host passed as a secret, a
stream name that collided with a previous deployment. Each rule below catches one
of those at synth. Each is a pure function of one `CfnResource` (plus facts from
cfn-lint's data and a read-only index of the app) that returns a `Verdict` whose
message says what is wrong and what to write instead.

The pack is a cdk-nag 3 `NagPack`: registered like the others, its findings land in
the same validation report, and a finding is acknowledged the same way, e.g.
`Preflight-RDSEngineVersion[postgres-15.4]`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import aws_cdk as cdk
import cdk_nag
import jsii

from compliance.references import ResourceView, StackView, TemplateIndex, intrinsics, render
from config import aws_facts

PACK = "Preflight"


@dataclass(frozen=True)
class Verdict:
    """A rule's answer for one resource: compliant, or the finding id suffix and what to change."""

    applies: bool = True
    compliant: bool = True
    finding: str = ""
    message: str = ""

    @staticmethod
    def not_applicable() -> Verdict:
        return Verdict(applies=False)

    @staticmethod
    def ok() -> Verdict:
        return Verdict()

    @staticmethod
    def fail(finding: str, message: str) -> Verdict:
        return Verdict(compliant=False, finding=finding, message=message)


@dataclass(frozen=True)
class Context:
    """What a rule may know besides the resource: the app's other templates and the declared prerequisites."""

    index: TemplateIndex
    external_prerequisites: frozenset[str]


# A rule reads one synthesized resource (its resolved properties, its stack's region and stage).
RuleFunction = Callable[[ResourceView, Context], Verdict]


@dataclass(frozen=True)
class PreflightRule:
    """One deployability check: which resource types it reads, and why it exists."""

    rule_id: str
    resource_types: frozenset[str]
    check: RuleFunction
    explanation: str
    controls: tuple[str, ...] = ()


# --- 1. RDS engine versions ----------------------------------------------------------------

_SUGGESTED_CLASSES = re.compile(r"db\.(t4g\.medium|m7g\.large|r7g\.large|m6i\.large)$")


def rds_engine_version(resource: ResourceView, ctx: Context) -> Verdict:
    """The engine version exists, is open to new instances, and runs on the instance class in this region."""
    props = resource.properties
    if resource.type != "AWS::RDS::DBInstance" or props.get("DBClusterIdentifier"):
        return Verdict.not_applicable()
    engine, version, instance_class = props.get("Engine"), props.get("EngineVersion"), props.get("DBInstanceClass")
    region = resource.stack.region
    if not isinstance(engine, str) or not isinstance(version, str):
        return Verdict.fail("unresolved", "engine and engine version must be literals so they can be checked at synth")
    versions = aws_facts.rds_engine_versions(engine)
    if not versions.valid:
        return Verdict.not_applicable()
    if version in versions.deprecated:
        return Verdict.fail(
            f"{engine}-{version}",
            f"{engine} {version} is deprecated for new instances in {region}; "
            f"use one of {versions.suggestions(version)}",
        )
    if version not in versions.valid and not any(v.startswith(f"{version}.") for v in versions.current):
        return Verdict.fail(
            f"{engine}-{version}",
            f"{engine} {version} is not a version RDS offers; use one of {versions.suggestions(version)}",
        )
    if isinstance(instance_class, str):
        classes = aws_facts.rds_instance_classes(engine, version)
        if classes is not None and instance_class not in classes:
            current_families = sorted(c for c in classes if _SUGGESTED_CLASSES.match(c))
            return Verdict.fail(
                f"{instance_class}-{engine}-{version}",
                f"{instance_class} does not run {engine} {version}; use a class such as {', '.join(current_families)}",
            )
        offered = aws_facts.rds_instance_classes_in_region(engine, region)
        if offered is not None and instance_class not in offered:
            return Verdict.fail(
                f"{instance_class}-{region}", f"{instance_class} is not offered for {engine} in {region}"
            )
    return Verdict.ok()


# --- 2. ElastiCache engine versions --------------------------------------------------------


def elasticache_engine_version(resource: ResourceView, ctx: Context) -> Verdict:
    """Replication groups and cache clusters use a version and node type ElastiCache offers here."""
    if resource.type not in ("AWS::ElastiCache::ReplicationGroup", "AWS::ElastiCache::CacheCluster"):
        return Verdict.not_applicable()
    props = resource.properties
    engine = props.get("Engine") or "redis"
    version = props.get("EngineVersion")
    node_type = props.get("CacheNodeType")
    region = resource.stack.region
    versions = aws_facts.elasticache_engine_versions(str(engine))
    if version is not None:
        if not isinstance(version, str):
            return Verdict.fail("unresolved", "the engine version must be a literal so it can be checked at synth")
        if versions and version not in versions:
            return Verdict.fail(
                f"{engine}-{version}",
                f"ElastiCache {engine} {version} is not offered; use one of {', '.join(versions[-4:])}",
            )
    offered = aws_facts.elasticache_node_types(region)
    if isinstance(node_type, str) and offered is not None and node_type not in offered:
        return Verdict.fail(f"{node_type}-{region}", f"{node_type} is not an ElastiCache node type in {region}")
    return Verdict.ok()


# --- 3. Keys that CloudWatch Logs can use ---------------------------------------------------

_LOGS_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt", "kms:GenerateDataKey", "kms:DescribeKey")
_LOGS_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"


def logs_key_policy(resource: ResourceView, ctx: Context) -> Verdict:
    """An encrypted log group's key is in this app and its policy lets CloudWatch Logs of this account use it."""
    if resource.type != "AWS::Logs::LogGroup" or "KmsKeyId" not in resource.properties:
        return Verdict.not_applicable()
    target = ctx.index.target(resource.stack, resource.properties["KmsKeyId"])
    if target is None or target[2].get("Type") != "AWS::KMS::Key":
        return Verdict.fail(
            "key-outside-app",
            "the log group's key is not created in this app, so its policy cannot be checked; create it with "
            "EncryptionKey(..., allow_cloudwatch_logs=True)",
        )
    policy = target[2].get("Properties", {}).get("KeyPolicy") or {}
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow" or "logs." not in render(statement.get("Principal", {})):
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        missing = [a for a in _LOGS_ACTIONS if not any(fnmatch.fnmatch(a, pattern) for pattern in actions)]
        if missing:
            return Verdict.fail(
                "logs-actions", f"the key policy's CloudWatch Logs statement lacks {', '.join(missing)}"
            )
        arn = next(
            (
                render(values[_LOGS_CONTEXT_KEY])
                for operator, values in statement.get("Condition", {}).items()
                if operator.startswith("Arn") and _LOGS_CONTEXT_KEY in values
            ),
            None,
        )
        if arn is None:
            return Verdict.fail(
                "logs-condition",
                f"the key policy lets CloudWatch Logs use the key without an ArnLike {_LOGS_CONTEXT_KEY} "
                "condition; limit it to arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*",
            )
        if re.match(r"arn:aws[a-z-]*:", arn):
            return Verdict.fail(
                "literal-partition",
                f"the {_LOGS_CONTEXT_KEY} condition writes the partition literally ({arn.split(':logs:')[0]}); "
                "build it from the AWS::Partition pseudo-parameter so it holds in GovCloud",
            )
        return Verdict.ok()
    return Verdict.fail(
        "no-logs-grant",
        "the key policy does not allow logs.<region>.amazonaws.com to use the key, so CloudWatch Logs refuses to "
        "create the log group; use EncryptionKey(..., allow_cloudwatch_logs=True)",
    )


# --- 4. Physical names that collide ------------------------------------------------------------

# Resource types whose names must be unique per account and region, and their name property.
NAMED_TYPES: Mapping[str, str] = {
    "AWS::Kinesis::Stream": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::WAFv2::WebACL": "Name",
}


def unique_physical_name(resource: ResourceView, ctx: Context) -> Verdict:
    """A fixed name must carry the stage, or two deployments (or a leftover one) collide."""
    prop = NAMED_TYPES.get(resource.type)
    stage = resource.stack.stage
    if prop is None or not stage:
        return Verdict.not_applicable()
    name = resource.properties.get(prop)
    if name is None or not isinstance(name, str):
        return Verdict.ok()  # generated by CloudFormation, or built from tokens such as the stack id
    if stage.lower() in name.lower():
        return Verdict.ok()
    return Verdict.fail(
        name,
        f"{resource.type} is named {name!r}, which every deployment of this app would share; "
        f"leave the name to CloudFormation, or derive it from the stage (e.g. '{stage.lower()}-{name}')",
    )


# --- 5. Stages that deploy into an empty account ------------------------------------------------

_EXTERNAL_PATTERNS = (
    (re.compile(r"\{\{resolve:secretsmanager:([^:<}]+)"), "secret"),
    (re.compile(r":secretsmanager:[^:]*:[^:]*:secret:([^:<,\"}*?]+)"), "secret"),
    (re.compile(r"\{\{resolve:ssm(?:-secure)?:([^:<}]+)"), "SSM parameter"),
    (re.compile(r":ssm:[^:]*:[^:]*:parameter([^:<,\"}*?]+)"), "SSM parameter"),
)


def self_contained_stage(resource: ResourceView, ctx: Context) -> Verdict:
    """A stage refers only to what it creates, unless config declares the dependency as a prerequisite."""
    if not resource.stack.stage:
        return Verdict.not_applicable()
    properties = resource.properties
    text = render(properties)
    for pattern, kind in _EXTERNAL_PATTERNS:
        for match in pattern.finditer(text):
            # IAM policies match a secret's random suffix with "-??????": the name is what precedes it.
            name = match.group(1).strip().rstrip("-")
            if name and name not in ctx.external_prerequisites:
                return Verdict.fail(
                    name,
                    f"refers to the {kind} {name!r}, which this app does not create, so a deployment into a fresh "
                    "account fails; create it in the stage (e.g. rds.Credentials.from_generated_secret) or list it "
                    "under external_prerequisites in the configuration",
                )
    for reference in intrinsics(properties):
        target = ctx.index.target(resource.stack, reference)
        if target is not None and str(target[2].get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
            name = str(target[2].get("Default"))
            if name not in ctx.external_prerequisites:
                return Verdict.fail(
                    name,
                    f"reads the SSM parameter {name!r}, which this app does not create; create it in the stage or "
                    "list it under external_prerequisites in the configuration",
                )
    return Verdict.ok()


# --- 6. Secrets read as the secret is written ---------------------------------------------------

# Names that are endpoints or identifiers, never credentials.
_NOT_A_CREDENTIAL = re.compile(r"(HOST|PORT|ENDPOINT|URL|URI|_NAME|REGION|STREAM|BUCKET|TABLE|QUEUE|TOPIC)$", re.I)
_RDS_ATTACHED_KEYS = frozenset(
    {"host", "port", "dbname", "engine", "username", "password", "dbInstanceIdentifier", "dbClusterIdentifier"}
)
_RDS_NON_SECRET_KEYS = frozenset({"host", "port", "dbname", "engine", "dbInstanceIdentifier", "dbClusterIdentifier"})


def container_secrets(resource: ResourceView, ctx: Context) -> Verdict:
    """ECS secrets carry credentials only, and name a JSON key their generated secret really contains."""
    if resource.type != "AWS::ECS::TaskDefinition":
        return Verdict.not_applicable()
    for container in resource.properties.get("ContainerDefinitions", []) or []:
        for secret in container.get("Secrets", []) or []:
            name = secret.get("Name", "")
            value_from = secret.get("ValueFrom")
            if _NOT_A_CREDENTIAL.search(name):
                return Verdict.fail(
                    name,
                    f"{name} is not a credential: pass it as a plain environment variable "
                    "(e.g. DB_HOST from the database's endpoint address) and keep secrets for credentials",
                )
            text = render(value_from)
            json_key = text.split("<ref>:", 1)[1].split(":", 1)[0] if "<ref>:" in text else ""
            references = intrinsics(value_from)
            target = ctx.index.target(resource.stack, references[0]) if references else None
            keys = _secret_keys(target, ctx)
            if json_key and json_key in _RDS_NON_SECRET_KEYS:
                return Verdict.fail(
                    f"{name}:{json_key}",
                    f"{name} reads '{json_key}' from a database secret; that is not a credential — pass it as "
                    "environment from the database's attributes",
                )
            if json_key and keys is not None and json_key not in keys:
                return Verdict.fail(
                    f"{name}:{json_key}",
                    f"{name} reads the key '{json_key}', which the secret does not contain "
                    f"(its keys: {', '.join(sorted(keys))})",
                )
    return Verdict.ok()


def _secret_keys(target: tuple[StackView, str, dict[str, Any]] | None, ctx: Context) -> set[str] | None:
    """The JSON keys a secret generated in this app will hold, or None if unknown."""
    attached = False
    if target is not None and target[2].get("Type") == "AWS::SecretsManager::SecretTargetAttachment":
        attached = True
        refs = intrinsics(target[2].get("Properties", {}).get("SecretId"))
        target = ctx.index.target(target[0], refs[0]) if refs else None
    if target is None or target[2].get("Type") != "AWS::SecretsManager::Secret":
        return None
    generator = target[2].get("Properties", {}).get("GenerateSecretString")
    if not isinstance(generator, dict):
        return None
    keys: set[str] = set()
    template = generator.get("SecretStringTemplate")
    if isinstance(template, str):
        keys.update(json.loads(template))
    key = generator.get("GenerateStringKey")
    if key:
        keys.add(str(key))
    if attached:
        keys |= _RDS_ATTACHED_KEYS
    return keys


RULES: tuple[PreflightRule, ...] = (
    PreflightRule(
        "RDSEngineVersion",
        frozenset({"AWS::RDS::DBInstance"}),
        rds_engine_version,
        "RDS refuses to create an instance at a version it no longer offers; the stack fails minutes in.",
        ("CM-6", "SI-2"),
    ),
    PreflightRule(
        "ElastiCacheEngineVersion",
        frozenset({"AWS::ElastiCache::ReplicationGroup", "AWS::ElastiCache::CacheCluster"}),
        elasticache_engine_version,
        "ElastiCache refuses versions and node types it does not offer in the region.",
        ("CM-6", "SI-2"),
    ),
    PreflightRule(
        "LogsKeyPolicy",
        frozenset({"AWS::Logs::LogGroup"}),
        logs_key_policy,
        "CloudWatch Logs creates an encrypted log group only if the key policy lets its regional principal use "
        "the key for this account's log groups.",
        ("SC-12", "SC-28(1)", "AU-9"),
    ),
    PreflightRule(
        "UniquePhysicalName",
        frozenset(NAMED_TYPES),
        unique_physical_name,
        "A fixed physical name collides with the same resource of another deployment or a leftover one.",
        ("CM-2",),
    ),
    PreflightRule(
        "SelfContainedStage",
        frozenset({"*"}),
        self_contained_stage,
        "A stage that reads a secret or parameter it does not create cannot deploy into a fresh account.",
        ("CM-2", "CP-10"),
    ),
    PreflightRule(
        "ContainerSecrets",
        frozenset({"AWS::ECS::TaskDefinition"}),
        container_secrets,
        "Tasks fail to start when a secret lacks the key they read; endpoints passed as secrets hide "
        "configuration and break when the secret rotates.",
        ("IA-5(7)", "SC-28"),
    ),
)


@jsii.implements(cdk_nag.IApplyRule)
class _Application:
    """One rule applied to one resource, in the shape cdk-nag's `applyRule` expects."""

    def __init__(self, node: cdk.CfnResource, rule: PreflightRule, verdict: Verdict) -> None:
        self._node = node
        self._rule = rule
        self._verdict = verdict

    @property
    def node(self) -> cdk.CfnResource:
        return self._node

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.rule_id

    @property
    def info(self) -> str:
        return self._verdict.message or self._rule.explanation

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> cdk_nag.NagMessageLevel:
        return cdk_nag.NagMessageLevel.ERROR

    def rule(self, node: cdk.CfnResource) -> Any:
        del node  # the (failing) verdict was computed in Python; hand it to cdk-nag as its result
        if not self._verdict.finding:
            return cdk_nag.NagRuleCompliance.NON_COMPLIANT
        # Finding ids become validation ids: keep them to the characters those allow.
        return [re.sub(r"[^A-Za-z0-9._/:@+=-]", "-", self._verdict.finding)]


class PreflightChecks(cdk_nag.NagPack):
    """Deployability rules, registered next to NIST 800-53 R5 and AWS Solutions.

    The rules read the synthesized templates (validation runs after synth), so a
    resource costs one call across the jsii bridge to learn its path, plus one
    more only when a rule finds something to report.
    """

    def __init__(self, *, external_prerequisites: Mapping[str, frozenset[str]] | None = None) -> None:
        super().__init__()
        self._pack_name = PACK
        self._external = dict(external_prerequisites or {})
        self._index: TemplateIndex | None = None

    @property
    def name(self) -> str:
        return PACK

    @property
    def rule_ids(self) -> list[str]:
        return [f"{PACK}-{rule.rule_id}" for rule in RULES]

    def _check_resource(self, node: cdk.CfnResource) -> None:
        index = self._index
        if index is None:
            # The assembly the validation runs on: the app's output directory.
            app = node.node.root
            assert isinstance(app, cdk.Stage)
            index = self._index = TemplateIndex.load(app.outdir)
        path = node.node.path
        resource = index.resource(path)
        if resource is None:  # templates written without path metadata: find it by logical id
            stack = cdk.Stack.of(node)
            resource = index.resource_by_logical_id(path, stack.resolve(stack.get_logical_id(node)))
        if resource is None:
            return  # not in a template (e.g. removed by an override): nothing deploys, nothing to check
        context = Context(index=index, external_prerequisites=self._external.get(resource.stack.stage, frozenset()))
        for rule in RULES:
            if resource.type in rule.resource_types or "*" in rule.resource_types:
                verdict = rule.check(resource, context)
                if verdict.applies and not verdict.compliant:
                    # jsii reads the application's members as properties; the protocol types them as variables.
                    self._apply_rule(cast(cdk_nag.IApplyRule, _Application(node, rule, verdict)))

    def validate_scope(self, scope: Any) -> Any:
        self._index = None  # a new walk of the tree reads the assembly as it is now
        return super().validate_scope(scope)


__all__ = ["PACK", "RULES", "Context", "PreflightChecks", "PreflightRule", "Verdict"]
