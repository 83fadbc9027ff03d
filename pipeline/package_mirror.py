"""Where the pipeline's builds install Python and npm packages from, inside an authorization boundary."""

from __future__ import annotations

from typing import Literal

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import WildcardGrantsOnly
from config.schema import PackageMirrorConfig

Tool = Literal["pip", "npm"]
# sts:GetServiceBearerToken names no resource; this condition limits it to CodeArtifact's tokens
# (https://docs.aws.amazon.com/codeartifact/latest/ug/get-set-up-provision-user.html).
BEARER_TOKEN_ACTION = "sts:GetServiceBearerToken"
CODEARTIFACT_SERVICE = "codeartifact.amazonaws.com"
BEARER_TOKEN_CONDITION = {"StringEquals": {"sts:AWSServiceName": CODEARTIFACT_SERVICE}}


class PackageMirror(Construct):
    """A CodeArtifact domain the pipeline's builds install packages from instead of PyPI and npm (CM-7, SA-10, SC-7).

    Each step that installs packages first runs `aws codeartifact login --tool pip|npm`, which fetches an
    authorization token and points pip (`~/.config/pip/pip.conf`) or npm (`~/.npmrc`) at the repository
    (https://docs.aws.amazon.com/codeartifact/latest/ug/python-configure-pip.html,
    https://docs.aws.amazon.com/codeartifact/latest/ug/npm-auth.html). Only the index changes: a requirements
    file installed with `--require-hashes`, or npm's lock file with its integrity hashes, is still checked
    file by file. The steps' roles share one managed policy with exactly what the login and the installs take
    (https://docs.aws.amazon.com/codeartifact/latest/ug/tokens-authentication.html): a token for this domain,
    the repositories' endpoints and reads, and the STS bearer token CodeArtifact's tokens are made of.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PackageMirrorConfig,
        owner: str,
        region: str,
        partition: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.domain, self.owner, self.region = config.domain, owner, region
        self.repositories: dict[Tool, str] = {"pip": config.pypi_repository, "npm": config.npm_repository}
        arn = f"arn:{partition}:codeartifact:{region}:{owner}"
        repositories = sorted({f"{arn}:repository/{config.domain}/{r}" for r in self.repositories.values()})
        self.read_policy = iam.ManagedPolicy(
            self,
            "Read",
            description="Lets the pipeline's builds install packages from its CodeArtifact repositories",
            statements=[
                iam.PolicyStatement(
                    actions=["codeartifact:GetAuthorizationToken"], resources=[f"{arn}:domain/{config.domain}"]
                ),
                iam.PolicyStatement(
                    actions=["codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository"],
                    resources=repositories,
                ),
                iam.PolicyStatement(actions=[BEARER_TOKEN_ACTION], resources=["*"], conditions=BEARER_TOKEN_CONDITION),
            ],
        )
        acknowledge(
            self.read_policy.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-IAM5[Resource::*]",
            reason=(
                "CodeArtifact's authorization token is made of an STS service bearer token, and "
                "sts:GetServiceBearerToken supports no resource narrower than '*'; the grant is limited to "
                "CodeArtifact's tokens by the sts:AWSServiceName condition, and what a token can read is "
                "granted on the configured domain and repositories alone."
            ),
            kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
            checks=[
                WildcardGrantsOnly(
                    (BEARER_TOKEN_ACTION,), condition="sts:AWSServiceName", condition_value=CODEARTIFACT_SERVICE
                )
            ],
            controls=["AC-6", "CM-7"],
            review_by="2027-03-31",
        )

    def login(self, *tools: Tool) -> list[str]:
        """The commands that point each tool at its repository, to run before anything is installed."""
        return [
            f"aws codeartifact login --tool {tool} --domain {self.domain} --domain-owner {self.owner} "
            f"--repository {self.repositories[tool]} --region {self.region}"
            for tool in tools
        ]

    def allow(self, project: codebuild.IProject) -> None:
        """Let `project`'s role log in and install, before its first build."""
        role = project.role
        assert role is not None, f"{project.node.path} has a role"
        self.read_policy.attach_to_role(role)
        project.node.default_child.node.add_dependency(self.read_policy)  # type: ignore[union-attr]
