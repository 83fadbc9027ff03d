"""The SignEvidence step runs the deployed pipeline's signer, on the assembly alone, for the run CodePipeline names."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance import attestation
from config import AppConfig
from tests.conftest import StackArtifact, resources_of


@pytest.fixture(scope="module")
def template(stack: Callable[[str, str], StackArtifact]) -> dict[str, Any]:
    return stack("", "Pipeline").template_json


@pytest.fixture(scope="module")
def action(template: dict[str, Any]) -> dict[str, Any]:
    (pipeline,) = resources_of(template, "AWS::CodePipeline::Pipeline").values()
    (stage,) = [s for s in pipeline["Properties"]["Stages"] if s["Name"] == "Evidence-Signing"]
    (sign,) = stage["Actions"]
    found: dict[str, Any] = sign
    return found


@pytest.fixture(scope="module")
def project(template: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]
    return found


def test_the_step_embeds_the_signers_current_text_and_runs_only_it(project: dict[str, Any]) -> None:
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    # Nothing installed, nothing of the source or the assembly run: the embedded signer, isolated.
    assert list(spec["phases"]) == ["build"]
    first, second = spec["phases"]["build"]["commands"]
    embedded = re.fullmatch(r"echo ([A-Za-z0-9+/=]+) \| base64 -d > /tmp/attestation.py", first)
    assert embedded, first
    assert base64.b64decode(embedded.group(1)) == Path(attestation.__file__).read_bytes()
    assert second == 'python3 -I /tmp/attestation.py --assembly . --key-id "$EVIDENCE_KEY_ARN"'
    assert not re.search(r"\b(pip|npm|make|scripts/|requirements)", json.dumps(spec))
    # Its output is the reports with the envelope, next to them.
    assert spec["artifacts"] == {"base-directory": "compliance", "files": "**/*"}
    assert attestation.ENVELOPE.startswith("compliance/")


def test_the_run_it_attests_comes_from_codepipeline_and_the_configuration(
    template: dict[str, Any], action: dict[str, Any], project: dict[str, Any], fixture_config: AppConfig
) -> None:
    # Set on the action, where CodePipeline resolves its variables; the commit cannot set them.
    variables = {v["name"]: v["value"] for v in json.loads(action["Configuration"]["EnvironmentVariables"])}
    (pipeline,) = resources_of(template, "AWS::CodePipeline::Pipeline").values()
    (source,) = pipeline["Properties"]["Stages"][0]["Actions"]
    assert variables == {
        "EXECUTION_ID": "#{codepipeline.PipelineExecutionId}",
        "SOURCE_REVISION": f"#{{{source['Namespace']}.CommitId}}",
    }
    environment = {v["Name"]: v["Value"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
    (key,) = [k for k in resources_of(template, "AWS::KMS::Key") if k.startswith("EvidenceSigningKey")]
    assert environment == {
        "EVIDENCE_KEY_ARN": {"Fn::GetAtt": [key, "Arn"]},
        "REPOSITORY": fixture_config.pipeline.repository,
        "BRANCH": fixture_config.pipeline.branch,
    }


def test_the_steps_role_may_only_sign_with_the_evidence_key(template: dict[str, Any], project: dict[str, Any]) -> None:
    role = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    (key,) = [k for k in resources_of(template, "AWS::KMS::Key") if k.startswith("EvidenceSigningKey")]
    statements = [
        statement
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    kms = [s for s in statements if "kms:" in json.dumps(s["Action"])]
    evidence_key = [s for s in kms if key in json.dumps(s["Resource"])]
    assert evidence_key == [{"Action": "kms:Sign", "Effect": "Allow", "Resource": {"Fn::GetAtt": [key, "Arn"]}}]
    # What else it holds on keys is the artifact key's, which every CDK Pipelines action role has.
    assert all("ArtifactKey" in json.dumps(s["Resource"]) for s in kms if s not in evidence_key)


def test_the_evidence_key_signs_for_the_step_alone(template: dict[str, Any], project: dict[str, Any]) -> None:
    # The account's administrators may use any key their key policy lets the account use: the key policy itself
    # must refuse every other signer.
    (key,) = [k for k in resources_of(template, "AWS::KMS::Key").values() if k["Properties"].get("KeySpec")]
    denials = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
    (denial,) = [s for s in denials if s["Action"] == "kms:Sign"]
    assert denial["Principal"] == {"AWS": "*"}
    assert denial["Condition"] == {
        "ArnNotEquals": {
            "aws:PrincipalArn": {"Fn::GetAtt": [project["Properties"]["ServiceRole"]["Fn::GetAtt"][0], "Arn"]}
        }
    }
