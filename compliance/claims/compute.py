"""Claims about what runs: container task definitions and the pipeline's build projects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from compliance.assembly import ResourceView
from compliance.claims.engine import KEY, TASK_DEFINITION, Check, as_list, credential_like_variables
from compliance.references import TemplateIndex, render
from config.schema import ECR_IMAGE


@dataclass(frozen=True)
class CredentialsOnlyAsSecrets(Check):
    subject_types: ClassVar[tuple[str, ...]] = (TASK_DEFINITION,)
    shortdesc: ClassVar[str] = "no credential-like environment variable"
    controls: ClassVar[tuple[str, ...]] = ("IA-5", "SC-28")

    @property
    def predicate(self) -> str:
        return "passes no credential in an environment variable (any credential comes as an ECS secret)"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        suspicious = credential_like_variables(resource)
        containers = as_list(resource.properties.get("ContainerDefinitions"))
        secrets = sum(len(as_list(container.get("Secrets"))) for container in containers)
        if suspicious:
            return False, f"credential-like environment variables: {', '.join(suspicious)}"
        return True, f"{secrets} ECS secret(s), no credential-like environment variable"


@dataclass(frozen=True)
class RunOnlyByPipeline(Check):
    """A CodeBuild project with a CODEPIPELINE source and no webhook: nothing but a pipeline action starts it."""

    subject_types: ClassVar[tuple[str, ...]] = ("AWS::CodeBuild::Project",)
    shortdesc: ClassVar[str] = "a CodeBuild project with a CODEPIPELINE source, no webhook and a KMS key of this app"
    controls: ClassVar[tuple[str, ...]] = ("CM-3", "CM-5")

    @property
    def noun(self) -> str:
        return "the build project"

    @property
    def predicate(self) -> str:
        return "runs only as a pipeline action (CODEPIPELINE source, no webhook) with a customer-managed key"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        source = props.get("Source", {}).get("Type")
        webhook = bool(props.get("Triggers", {}).get("Webhook"))
        key = index.resolve(resource.stack, props.get("EncryptionKey"))
        key_type = key.type if key is not None else None
        holds = source == "CODEPIPELINE" and not webhook and key_type in (KEY, "AWS::KMS::Alias")
        return holds, f"source {source}, webhook {'on' if webhook else 'off'}, key {key_type or 'not of this app'}"


@dataclass(frozen=True)
class ImagePinnedByDigest(Check):
    """A CodeBuild project runs on an Amazon ECR image named by its sha256 digest, pulled with its service role."""

    subject_types: ClassVar[tuple[str, ...]] = ("AWS::CodeBuild::Project",)
    shortdesc: ClassVar[str] = (
        "a CodeBuild project on an Amazon ECR image named by its sha256 digest, pulled with its service role"
    )
    controls: ClassVar[tuple[str, ...]] = ("CM-2", "CM-14", "SI-7")

    @property
    def noun(self) -> str:
        return "the build project"

    @property
    def predicate(self) -> str:
        return "runs on an Amazon ECR image named by its sha256 digest, pulled with the project's own service role"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        environment = resource.properties.get("Environment", {})
        image, credentials = render(environment.get("Image", "absent")), environment.get("ImagePullCredentialsType")
        holds = bool(ECR_IMAGE.fullmatch(image)) and credentials == "SERVICE_ROLE"
        return holds, f"image {image}, pulled with {credentials or 'CODEBUILD'} credentials"
