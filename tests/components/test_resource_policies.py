"""Every KMS key, topic policy and bucket policy the app deploys went through `harden_resource_policies`.

The gate already judges what the pass writes, where a rule looks: Control Tower's CT.KMS.PR.3 fails a key
without the grants statement (unless the configuration disables the control), and Preflight's
ServicePrincipalCondition fails a grant to a service principal that names no source. Neither notices a
resource the pass never saw whose policy happens to need nothing today, nor a pass run before its stage
was complete: these tests compare what each pass hardened with what the templates deploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from components.encryption_key import GRANTS_ONLY_FOR_AWS_RESOURCES_SID as SID
from components.resource_policies import HardenedResources, harden_resource_policies
from components.service_principal_conditions import CONFINED_SERVICES, UNCONFINABLE_IN_KEY_POLICIES
from pipeline import PipelineStack
from tests.conftest import StackArtifact

_POLICY_PROPERTIES = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
}
_BINDING_KEYS = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "kms:encryptioncontext")
# The statement Control Tower's CT.KMS.PR.3 hook accepts.
_GRANTS_ONLY_FOR_AWS_RESOURCES = {
    "Sid": SID,
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "kms:CreateGrant",
    "Resource": "*",
    "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
}


def _pipeline(app: cdk.App) -> PipelineStack:
    pipeline = app.node.find_child("Pipeline")
    assert isinstance(pipeline, PipelineStack)
    return pipeline


def _passes(app: cdk.App) -> list[HardenedResources]:
    """What every pass of the app hardened: the pipeline's and its region supports', each stage's."""
    pipeline = _pipeline(app)
    return [*pipeline.hardened, *(stage.hardened for stage in pipeline.stages)]


def _resources(stacks: dict[str, StackArtifact], *types: str) -> dict[str, dict[str, Any]]:
    """The templates' resources of `types`, by construct path."""
    return {
        resource["Metadata"]["aws:cdk:path"]: resource
        for stack in stacks.values()
        for resource in stack.template_json["Resources"].values()
        if resource["Type"] in types
    }


def _confined_grants(resource: dict[str, Any]) -> list[tuple[set[str], bool]]:
    """Each Allow statement of the resource's policy that names a service of `CONFINED_SERVICES`: those services,
    and whether a condition ties the statement to an account or a resource."""
    document = resource["Properties"][_POLICY_PROPERTIES[resource["Type"]]]
    grants = []
    for statement in document["Statement"]:
        principal = statement.get("Principal")
        service = principal.get("Service", []) if isinstance(principal, dict) else []
        services = {s for s in ([service] if isinstance(service, str) else service) if s in CONFINED_SERVICES}
        if statement["Effect"] == "Allow" and services:
            keys = [key.lower() for values in statement.get("Condition", {}).values() for key in values]
            grants.append((services, any(key.startswith(_BINDING_KEYS) for key in keys)))
    return grants


def test_every_key_of_every_template_went_through_a_pass(
    fixture_app: cdk.App, stacks: dict[str, StackArtifact]
) -> None:
    hardened = [key.node.default_child for run in _passes(fixture_app) for key in run.keys]
    hardened_paths = sorted(resource.node.path for resource in hardened if resource is not None)
    deployed = sorted(_resources(stacks, "AWS::KMS::Key"))
    assert any(path.startswith("PipelineSupport-") for path in deployed)  # the region supports' keys count too
    assert hardened_paths == deployed


def test_every_key_and_resource_policy_of_the_stages_and_the_pipeline_was_confined(
    fixture_app: cdk.App, stacks: dict[str, StackArtifact]
) -> None:
    confined = sorted(resource.node.path for run in _passes(fixture_app) for resource in run.confined)
    supports = tuple(f"{support.node.path}/" for support in _pipeline(fixture_app).region_supports)
    deployed = _resources(stacks, *_POLICY_PROPERTIES)
    assert {path.split("/")[1] for path in confined if path.startswith("Pipeline/")} >= {"Prod", "ArtifactStore"}
    assert confined == sorted(path for path in deployed if not path.startswith(supports))
    # The region supports' keys only (`PipelineStack._harden_resource_policies`): nothing there to confine.
    left = {path: _confined_grants(resource) for path, resource in deployed.items() if path.startswith(supports)}
    assert left
    assert all(grants == [] for grants in left.values()), left


def test_each_key_lets_only_aws_services_create_grants(stacks: dict[str, StackArtifact]) -> None:
    keys = _resources(stacks, "AWS::KMS::Key")
    assert keys
    for path, key in keys.items():
        assert _GRANTS_ONLY_FOR_AWS_RESOURCES in key["Properties"]["KeyPolicy"]["Statement"], path


def test_no_grant_to_a_confined_service_is_left_untied(stacks: dict[str, StackArtifact]) -> None:
    grants = {path: _confined_grants(resource) for path, resource in _resources(stacks, *_POLICY_PROPERTIES).items()}
    untied = {
        path: services
        for path, found in grants.items()
        for services, tied in found
        if not tied and not (path in _resources(stacks, "AWS::KMS::Key") and services <= UNCONFINABLE_IN_KEY_POLICIES)
    }
    assert any(found for found in grants.values())  # the pipeline's topic grants EventBridge, the trails CloudTrail
    assert untied == {}


def test_a_stage_nested_in_a_stack_is_left_to_its_own_pass(tmp_path: Path) -> None:
    """A pass over a stack skips the stages under it (as CDK Pipelines' stages are under the pipeline's stack), and
    nothing of the stack after them."""
    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:enable-path-metadata": True})
    env = cdk.Environment(account="123456789012", region="us-west-2")
    outer = cdk.Stack(app, "Outer", env=env)
    kms.Key(outer, "Before")
    inside = cdk.Stack(cdk.Stage(outer, "Inner", env=env), "Inside")
    kms.Key(inside, "Nested")
    kms.Key(outer, "After")
    hardened = harden_resource_policies(outer)
    assert [key.node.path for key in hardened.keys] == ["Outer/Before", "Outer/After"]
    assert [resource.node.path for resource in hardened.confined] == ["Outer/Before/Resource", "Outer/After/Resource"]
    assert _sids(outer) == {"Outer/Before/Resource": [SID], "Outer/After/Resource": [SID]}
    assert _sids(inside) == {"Outer/Inner/Inside/Nested/Resource": []}


def _sids(stack: cdk.Stack) -> dict[str, list[str]]:
    """The Sids of each key policy of the stack's template, by construct path."""
    keys = Template.from_stack(stack).find_resources("AWS::KMS::Key")
    return {
        key["Metadata"]["aws:cdk:path"]: [s["Sid"] for s in key["Properties"]["KeyPolicy"]["Statement"] if "Sid" in s]
        for key in keys.values()
    }


@pytest.mark.parametrize("confine", [True, False])
def test_without_confine_only_keys_are_hardened(tmp_path: Path, confine: bool) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Stack", env=cdk.Environment(account="123456789012", region="us-west-2"))
    kms.Key(stack, "Key")
    hardened = harden_resource_policies(stack, confine=confine)
    assert len(hardened.keys) == 1
    assert len(hardened.confined) == (1 if confine else 0)
