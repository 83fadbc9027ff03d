"""The self-mutating pipeline that promotes the workload dev -> staging -> prod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import pipelines
from constructs import Construct

from config import EnvironmentConfig, PipelineConfig
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
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
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
