"""The image every CodeBuild project of the pipeline runs on."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import ImagePinnedByDigest, WildcardGrantsOnly
from components.rewritten import rewritten
from config.schema import EcrImage

# What pulling an image from one ECR repository takes (Amazon ECR User Guide, "Private repository policy examples":
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html).
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# Registry-wide: the action names no resource (Service Authorization Reference for Amazon ECR).
TOKEN_ACTION = "ecr:GetAuthorizationToken"


class BuildImage(Construct):
    """The image of every CodeBuild project of the pipeline, its own and those CDK Pipelines generates (CM-2, SA-10).

    By default CodeBuild's curated `aws/codebuild/standard:7.0`, named by tag: AWS maintains it and updates it
    in place, and publishes no digest for it, so it cannot be pinned; CodeBuild pulls a curated image with its
    own credentials. With `pipeline.build_image`, an Amazon ECR image named by its sha256 digest: every build
    runs exactly those bytes, whatever is pushed under a tag later. CodeBuild then pulls it with each project's
    service role (`SERVICE_ROLE`, which an image of another account requires:
    https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectEnvironment.html), and the one managed
    policy those roles share allows pulling from that repository only, plus the registry's authorization token,
    which ECR grants on no narrower resource.
    """

    def __init__(self, scope: Construct, construct_id: str, *, image: EcrImage | None, partition: str) -> None:
        super().__init__(scope, construct_id)
        self.pinned = image
        self.pull_policy: iam.ManagedPolicy | None = None
        if image is None:
            self.build_image: codebuild.IBuildImage = codebuild.LinuxBuildImage.STANDARD_7_0
            return
        # The image by its full URI: a literal, so the template names the digest (no lookup, nothing resolved).
        self.build_image = codebuild.LinuxBuildImage.from_docker_registry(image.uri)
        self.pull_policy = iam.ManagedPolicy(
            self,
            "Pull",
            description="Lets the pipeline's CodeBuild projects pull their build image, and no other image",
            statements=[
                iam.PolicyStatement(actions=list(PULL_ACTIONS), resources=[image.repository_arn(partition)]),
                iam.PolicyStatement(actions=[TOKEN_ACTION], resources=["*"]),
            ],
        )
        acknowledge(
            self.pull_policy.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-IAM5[Resource::*]",
            reason=(
                "Pulling from a private ECR repository needs the registry's authorization token, and "
                "ecr:GetAuthorizationToken supports no resource narrower than '*'; the token reads nothing by "
                "itself: the pulls are granted on the build image's repository alone."
            ),
            kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
            checks=[WildcardGrantsOnly((TOKEN_ACTION,))],
            controls=["AC-6", "CM-2"],
            review_by="2027-03-31",
        )

    def run(self, project: codebuild.Project) -> None:
        """Run `project` on this image, whoever built it, and let its role pull the image before its first build."""
        if self.pinned is None or self.pull_policy is None:
            return
        resource = project.node.default_child
        assert isinstance(resource, codebuild.CfnProject), f"{project.node.path} has a CfnProject"
        # On the L1 property itself, as a library-built project's image is set nowhere else (and rule packs read it).
        resource.environment = rewritten(resource, resource.environment, self._on_image)
        role = project.role
        assert role is not None, f"{project.node.path} has a role"
        self.pull_policy.attach_to_role(role)
        resource.node.add_dependency(self.pull_policy)
        acknowledge(
            resource,
            "AwsSolutions-CB5",
            reason=(
                "The project runs on the team's own build image instead of CodeBuild's curated one: the curated "
                "image is updated in place by AWS and cannot be pinned, while this image is named by its digest, "
                "so every build runs exactly the tools that were reviewed when the digest was committed."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[ImagePinnedByDigest()],
            controls=["CM-2", "CM-14", "SA-10"],
            review_by="2027-06-30",
        )

    def _on_image(self, environment: dict[str, Any]) -> dict[str, Any]:
        assert self.pinned is not None
        return {**environment, "image": self.pinned.uri, "imagePullCredentialsType": "SERVICE_ROLE"}
