"""The self-mutating pipeline that promotes the workload dev -> staging -> prod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from compliance import acknowledge
from config import EnvironmentConfig, PipelineConfig
from pipeline.acknowledgments import acknowledge_pipeline
from stages import MonitoringStage

# The same targets a developer runs: the suite, then synth with compliance gating.
SYNTH_COMMANDS = ("make test", "make synth")


class PipelineStack(cdk.Stack):
    """CDK Pipelines on CodePipeline V2 (CM-3, CM-3(2), CM-5, SA-10).

    A push to the configured branch starts the pipeline. It runs the tests and
    the gated synth, updates itself (self-mutation), publishes assets, and
    deploys one `MonitoringStage` per environment in promotion order, with a
    manual approval before every stage after the first. Artifacts are encrypted
    with a rotated cross-account KMS key.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        environments: tuple[EnvironmentConfig, ...] | list[EnvironmentConfig],
        cli_version: str,
        image_directory: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        source = pipelines.CodePipelineSource.connection(
            config.repository,
            config.branch,
            connection_arn=config.connection_arn,
            trigger_on_push=True,
        )
        self.artifact_key = kms.Key(
            self,
            "ArtifactKey",
            description="Pipeline artifacts, readable by the deployment roles of every stage account",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        self.access_logs = s3.Bucket(
            self,
            "ArtifactAccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logging cannot write to KMS buckets
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(400))],
        )
        self.artifact_bucket = s3.Bucket(
            self,
            "Artifacts",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.artifact_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="artifacts/",
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            artifact_bucket=self.artifact_bucket,
            pipeline_type=codepipeline.PipelineType.V2,
            self_mutation=True,
            cross_account_keys=True,
            enable_key_rotation=True,
            cli_version=cli_version,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                    compute_type=codebuild.ComputeType.MEDIUM,
                ),
            ),
            synth=pipelines.ShellStep(
                "Synth",
                input=source,
                env={"CI": "true"},
                commands=list(SYNTH_COMMANDS),
                primary_output_directory="cdk.out",
            ),
        )
        self.stages: list[MonitoringStage] = []
        for index, environment in enumerate(environments):
            stage = MonitoringStage(self, environment.stage_id, config=environment, image_directory=image_directory)
            pre: list[pipelines.Step] = []
            if index > 0:
                pre.append(
                    pipelines.ManualApprovalStep(
                        f"Approve{environment.stage_id}",
                        comment=(
                            f"{environments[index - 1].stage_id} is deployed. Review its compliance report "
                            f"(cdk.out/compliance in the Synth output) before promoting to {environment.stage_id}."
                        ),
                    )
                )
            self.pipeline.add_stage(stage, pre=pre)
            self.stages.append(stage)

        # Build now so the V2 trigger can name the source action and the branch it listens to.
        self.pipeline.build_pipeline()
        source_action = self.pipeline.pipeline.stages[0].actions[0]
        self.pipeline.pipeline.add_trigger(
            provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
            git_configuration=codepipeline.GitConfiguration(
                source_action=source_action,
                push_filter=[codepipeline.GitPushFilter(branches_includes=[config.branch])],
            ),
        )
        acknowledge_pipeline(self, self.pipeline, self.artifact_bucket)
        self._acknowledge_buckets()

    def _acknowledge_buckets(self) -> None:
        acknowledge(
            self.artifact_bucket.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            reason=(
                "Pipeline artifacts are rebuilt from the source commit on every run; a second-region copy "
                "would protect nothing that the repository does not already hold."
            ),
            compensating_control="the bucket is versioned and retained when the stack is deleted",
            controls=["CP-9", "CP-6"],
        )
        acknowledge(
            self.access_logs.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            reason=(
                "The access logs of the artifact bucket are audit records kept in the pipeline's own region; "
                "losing that region would lose access records of artifacts that are themselves rebuilt on the "
                "next run, which is the risk accepted here."
            ),
            compensating_control=(
                "the bucket is versioned, TLS-only, private, retained on stack deletion and keeps records for "
                "400 days; CloudTrail records the pipeline's own API activity independently"
            ),
            controls=["AU-9", "CP-9"],
        )
        acknowledge(
            self.access_logs.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            reason="S3 server access logging can deliver only to buckets encrypted with S3-managed keys (SSE-S3).",
            compensating_control="the bucket is private, TLS-only, versioned, and holds only access-log records",
            controls=["SC-28(1)", "AU-9"],
        )
