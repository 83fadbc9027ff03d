"""The self-mutating pipeline that promotes the workload dev -> staging -> prod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import pipelines
from constructs import Construct

from components import EncryptedLogGroup, EncryptionKey
from components.logged_bucket import LoggedBucket
from components.private_api import HEALTH_CHECK_ROUTE
from config import EnvironmentConfig, PipelineConfig
from pipeline.acknowledgments import acknowledge_pipeline
from stages import MonitoringStage

# The same targets a developer runs: the suite, then synth with compliance gating.
SYNTH_COMMANDS = ("make test", "make synth")
PYTEST_JUNIT = "reports/pytest.xml"
BUILD_LOG_RETENTION_DAYS = 365


class PipelineStack(cdk.Stack):
    """CDK Pipelines on CodePipeline V2 (CM-3, CM-3(2), CM-4, CM-5, SA-10, SI-6).

    A push to the configured branch starts the pipeline. It runs the tests and the
    gated synth (publishing both JUnit reports to CodeBuild report groups and
    keeping the compliance report with the run's artifacts), updates itself, and
    publishes assets. Then, per environment in promotion order: before every stage
    after the first, a security diff stops on any IAM or security-group broadening
    and a manual approval waits, both announced on the approvals topic; the stage
    deploys; a smoke test calls the stage's API `/ready` (signed with the step's
    role), which fails the stage unless the service reaches its database, cache
    and stream. Artifacts, build logs and notifications are encrypted with rotated CMKs.
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
        store = LoggedBucket(
            self,
            "ArtifactStore",
            encryption_key=self.artifact_key,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            replication_reason=(
                "Pipeline artifacts are rebuilt from the source commit on every run; a second-region copy "
                "would protect nothing that the repository does not already hold."
            ),
            log_prefix="artifacts/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
        )
        self.artifact_bucket, self.access_logs = store.bucket, store.access_logs
        self.telemetry_key = EncryptionKey(
            self,
            "TelemetryKey",
            description="Pipeline build logs and approval notifications",
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            allow_cloudwatch_logs=True,
            allow_eventbridge=True,
        ).key
        self.build_logs = build_logs = EncryptedLogGroup(
            self,
            "BuildLogs",
            encryption_key=self.telemetry_key,
            retention_days=BUILD_LOG_RETENTION_DAYS,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        ).log_group
        self.approval_topic = sns.Topic(
            self,
            "ApprovalTopic",
            display_name="Monitoring pipeline: approvals and permission changes",
            master_key=self.telemetry_key,
            enforce_ssl=True,
        )
        for email in config.approval_emails:
            self.approval_topic.add_subscription(subscriptions.EmailSubscription(email))
        self.test_reports = codebuild.ReportGroup(
            self, "TestReports", removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        )
        self.compliance_reports = codebuild.ReportGroup(
            self, "ComplianceReports", removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
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
                logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=build_logs)),
            ),
            synth=self._synth_step(source),
        )
        self.stages: list[MonitoringStage] = []
        for index, environment in enumerate(environments):
            stage = MonitoringStage(
                self,
                environment.stage_id,
                config=environment,
                image_directory=image_directory,
                health_check_account=config.account,
            )
            pre: list[pipelines.Step] = []
            if index > 0:
                previous = environments[index - 1].stage_id
                # Any IAM or security-group broadening stops here and notifies the approvers first.
                security_diff = pipelines.ConfirmPermissionsBroadening(
                    f"SecurityDiff{environment.stage_id}", stage=stage, notification_topic=self.approval_topic
                )
                approval = pipelines.ManualApprovalStep(
                    f"Approve{environment.stage_id}",
                    comment=(
                        f"{previous} is deployed and passed its smoke test (GET /ready: database, cache and stream "
                        f"reachable and signed in to). Before promoting to "
                        f"{environment.stage_id}, review this run's compliance report: the Synth action's output "
                        "artifact, cdk.out/compliance/report.md, and the ComplianceReports report group."
                    ),
                )
                approval.add_step_dependency(security_diff)
                pre += [security_diff, approval]
            smoke = pipelines.CodeBuildStep(
                f"Smoke{environment.stage_id}",
                input=source,
                env_from_cfn_outputs={"API_URL": stage.api_url_output},
                install_commands=["python3 -m pip install --quiet -r requirements-smoke.txt"],
                commands=["python3 scripts/smoke_test.py"],
                role_policy_statements=[
                    iam.PolicyStatement(
                        actions=["execute-api:Invoke"],
                        resources=[
                            f"arn:{self.partition}:execute-api:{environment.region}:{environment.account}:*/*/"
                            + "".join(HEALTH_CHECK_ROUTE)
                        ],
                    )
                ],
            )
            self.pipeline.add_stage(stage, pre=pre, post=[smoke])
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
        self._notify_approvers(config, environments)
        acknowledge_pipeline(
            self,
            self.pipeline,
            self.artifact_bucket,
            stages=environments,
            telemetry_key=self.telemetry_key,
            build_logs=self.build_logs,
        )

    def _notify_approvers(
        self, config: PipelineConfig, environments: tuple[EnvironmentConfig, ...] | list[EnvironmentConfig]
    ) -> None:
        """Tell the approvers when an approval waits and when a run fails, with a link to the run.

        EventBridge rather than CodeStar Notifications: the latter does not exist in GovCloud.
        """
        code_pipeline = self.pipeline.pipeline
        run_link = (
            f"https://{_console_host(config.partition)}/codesuite/codepipeline/pipelines/"
            f"{code_pipeline.pipeline_name}/executions/{events.EventField.from_path('$.detail.execution-id')}"
            f"/timeline?region={config.region}"
        )
        action = events.EventField.from_path("$.detail.action")
        stage = events.EventField.from_path("$.detail.stage")
        notices = (
            (
                "ApprovalWaiting",
                "A promotion waits for approval in the monitoring pipeline",
                "CodePipeline Action Execution State Change",
                {
                    "state": ["STARTED"],
                    "type": {"category": ["Approval"]},
                    # Only the promotions: the security diff's own confirmation starts on every run and
                    # approves itself when nothing broadens (the diff step notifies the topic when it does).
                    "action": [f"Approve{env.stage_id}" for env in environments[1:]],
                },
                f"Approval waiting: {action} in stage {stage}. Review the run and its compliance report "
                f"(Synth output, cdk.out/compliance/report.md): {run_link}",
            ),
            (
                "RunFailed",
                "A run of the monitoring pipeline failed",
                "CodePipeline Pipeline Execution State Change",
                {"state": ["FAILED"]},
                f"Pipeline run failed: {run_link}",
            ),
        )
        for construct_id, description, detail_type, detail, message in notices:
            events.Rule(
                self,
                construct_id,
                description=description,
                event_pattern=events.EventPattern(
                    source=["aws.codepipeline"],
                    detail_type=[detail_type],
                    detail={"pipeline": [code_pipeline.pipeline_name], **detail},
                ),
                targets=[targets.SnsTopic(self.approval_topic, message=events.RuleTargetInput.from_text(message))],
            )

    def _synth_step(self, source: pipelines.IFileSetProducer) -> pipelines.CodeBuildStep:
        """`make test` then `make synth`, with both JUnit reports published to CodeBuild report groups."""
        report_groups = (self.test_reports, self.compliance_reports)
        return pipelines.CodeBuildStep(
            "Synth",
            input=source,
            env={"CI": "true", "PYTEST_ADDOPTS": f"--junitxml={PYTEST_JUNIT}"},
            commands=list(SYNTH_COMMANDS),
            primary_output_directory="cdk.out",
            partial_build_spec=codebuild.BuildSpec.from_object(
                {
                    "reports": {
                        self.test_reports.report_group_arn: {"files": [PYTEST_JUNIT], "file-format": "JUNITXML"},
                        self.compliance_reports.report_group_arn: {
                            "files": ["junit.xml"],
                            "base-directory": "cdk.out/compliance",
                            "file-format": "JUNITXML",
                        },
                    }
                }
            ),
            role_policy_statements=[
                iam.PolicyStatement(
                    actions=[
                        "codebuild:CreateReport",
                        "codebuild:UpdateReport",
                        "codebuild:BatchPutTestCases",
                        "codebuild:BatchPutCodeCoverages",
                    ],
                    resources=[g.report_group_arn for g in report_groups],
                )
            ],
        )


def _console_host(partition: str) -> str:
    """The AWS console's host name in a partition."""
    return {"aws-us-gov": "console.amazonaws-us-gov.com", "aws-cn": "console.amazonaws.cn"}.get(
        partition, "console.aws.amazon.com"
    )
