"""The self-mutating pipeline that promotes the workload through the configured environments in order."""

from __future__ import annotations

import base64
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

from compliance import attestation
from compliance.assembly import OUTPUT_DIRECTORY, REPORT_DIRECTORY
from compliance.outputs.junit import JUNIT
from compliance.outputs.markdown import MARKDOWN
from components import EncryptedLogGroup, EncryptionKey
from components.logged_bucket import LoggedBucket
from components.private_api import HEALTH_CHECK_ROUTE
from components.resource_policies import harden_resource_policies
from config import EnvironmentConfig, PipelineConfig
from config.schema import stage_id_of
from pipeline import generated
from pipeline.acknowledgments import BUILD_LOG_RETENTION_DAYS, acknowledge_pipeline
from pipeline.build_image import BuildImage
from pipeline.guard import ASSEMBLY_CHECK, PipelineGuard, unpack_checks
from pipeline.package_mirror import PackageMirror, Tool
from pipeline.region_support import RegionSupportStack, narrow_replication_key_grants
from pipeline.security_diff import SecurityDiff
from stages import MonitoringStage

# The same targets a developer runs: the suite, then synth with compliance gating.
SYNTH_COMMANDS = ("make test", "make synth")
PYTEST_JUNIT = "reports/pytest.xml"
# Where the synth leaves the compliance reports, and the one a person reads first.
REPORTS = f"{OUTPUT_DIRECTORY}/{REPORT_DIRECTORY}"
REPORT_TO_READ = f"{REPORTS}/{MARKDOWN}"


class PipelineStack(cdk.Stack):
    """CDK Pipelines on CodePipeline V2 (CM-3, CM-3(2), CM-4, CM-5, SA-10, SI-6, AC-6).

    A push to the configured branch starts the pipeline. It runs the tests and the
    gated synth (publishing both JUnit reports to CodeBuild report groups and
    keeping the compliance report with the run's artifacts), updates itself, and
    publishes assets. Then, per environment in promotion order: before every stage,
    a security diff stops on any IAM or security-group broadening until a person
    confirms it, and, where the configuration asks for one, a manual approval waits,
    both announced on the approvals topic; the stage deploys; a smoke test calls the
    stage's API `/ready` (signed with the step's role), which fails the stage unless
    the service reaches its database, cache and stream. Artifacts, build logs and
    notifications are encrypted with rotated CMKs. The roles CDK Pipelines generates
    are narrowed to what their steps need (`generated.narrow_asset_roles`,
    `generated.narrow_self_mutation_role`) and the security diff is ours (`SecurityDiff`).

    Every CodeBuild project runs on one image (`BuildImage`: CodeBuild's curated image, or one pinned
    by digest); with a package mirror (`PackageMirror`), every build that installs packages does so
    from CodeArtifact, never from PyPI or the npm registry directly (CM-2, CM-7, SA-10).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        environments: tuple[EnvironmentConfig, ...],
        waves: tuple[tuple[EnvironmentConfig, ...], ...] | None = None,
        cli_version: str,
        cdk_assets_version: str,
        image_directory: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        waves = waves or tuple((env,) for env in environments)
        source = pipelines.CodePipelineSource.connection(
            config.repository, config.branch, connection_arn=config.connection_arn, trigger_on_push=True
        )
        self._foundation(config)
        self._build_sources(config)
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            code_pipeline=self._code_pipeline(config, environments),
            self_mutation=True,
            cli_version=cli_version,
            cdk_assets_cli_version=cdk_assets_version,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=self.build_image.build_image, compute_type=codebuild.ComputeType.MEDIUM
                ),
                logging=codebuild.LoggingOptions(
                    cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs)
                ),
            ),
            # What CDK Pipelines installs in these projects is npm's: the CDK CLI and cdk-assets.
            self_mutation_code_build_defaults=self._logged_in("npm", leave_assembly=True),
            asset_publishing_code_build_defaults=self._logged_in("npm"),
            synth=self._synth_step(source),
        )
        self._sign_evidence(source, config)
        self.security_diff = self._security_diff(config, environments, cli_version)
        self.stages: list[MonitoringStage] = []
        self.smoke_steps: dict[str, pipelines.CodeBuildStep] = {}
        self.protect_steps: dict[str, pipelines.CodeBuildStep] = {}
        self.approval_actions: list[str] = []
        for wave in waves:
            self._add_wave(wave, source, image_directory=image_directory, pipeline_account=config.account)
        # Build now so the V2 trigger can name the source action and the guard can join the pipeline.
        self.pipeline.build_pipeline()
        self._after_build(config, environments, cdk_assets_version)

    def _foundation(self, config: PipelineConfig) -> None:
        """Keys, the artifact store, build logs, the approvals topic and the report groups."""
        retain = cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        self.artifact_key = kms.Key(
            self,
            "ArtifactKey",
            description="Pipeline artifacts, readable by the deployment roles of every stage account",
            enable_key_rotation=True,
            removal_policy=retain,
        )
        store = LoggedBucket(
            self,
            "ArtifactStore",
            encryption_key=self.artifact_key,
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
            removal_policy=retain,
            allow_cloudwatch_logs=True,
            allow_eventbridge=True,
        ).key
        self.build_logs = EncryptedLogGroup(
            self,
            "BuildLogs",
            encryption_key=self.telemetry_key,
            retention_days=BUILD_LOG_RETENTION_DAYS,
            removal_policy=retain,
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
        self.test_reports = codebuild.ReportGroup(self, "TestReports", removal_policy=retain)
        self.compliance_reports = codebuild.ReportGroup(self, "ComplianceReports", removal_policy=retain)

    def _security_diff(
        self, config: PipelineConfig, environments: tuple[EnvironmentConfig, ...], cli_version: str
    ) -> SecurityDiff:
        """The security diff every stage runs before it deploys, with the pinned CDK CLI."""
        return SecurityDiff(
            self,
            "SecurityDiff",
            environments=environments,
            topic=self.approval_topic,
            artifact_key=self.artifact_key,
            telemetry_key=self.telemetry_key,
            build_logs=self.build_logs,
            build_image=self.build_image.build_image,
            cli_version=cli_version,
            login=self._login("npm"),
            console_host=_console_host(config.partition),
            check=f"{unpack_checks()} && {self._assembly_check(config)}",
        )

    def _build_sources(self, config: PipelineConfig) -> None:
        """What the builds run on and install from: the build image, and the package mirror if one is configured."""
        self.build_image = BuildImage(self, "BuildImage", image=config.ecr_build_image, partition=config.partition)
        mirror = config.package_mirror
        self.package_mirror = (
            PackageMirror(
                self,
                "PackageMirror",
                config=mirror,
                owner=mirror.domain_owner or config.account,
                region=config.region,
                partition=config.partition,
            )
            if mirror is not None
            else None
        )

    def _after_build(
        self, config: PipelineConfig, environments: tuple[EnvironmentConfig, ...], cdk_assets_version: str
    ) -> None:
        """The trigger, the guard, the checks of privileged steps, hardening of generated resources (their image and
        package mirror too), notices, acknowledgments."""
        code_pipeline = self.pipeline.pipeline
        code_pipeline.add_trigger(
            provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
            git_configuration=codepipeline.GitConfiguration(
                source_action=code_pipeline.stages[0].actions[0],
                push_filter=[codepipeline.GitPushFilter(branches_includes=[config.branch])],
            ),
        )
        narrow_replication_key_grants(code_pipeline.role, self.region_supports)
        generated.grant_connection_use(code_pipeline, config.connection_arn)
        self.security_diff.confirm_only(code_pipeline)
        generated.narrow_asset_roles(self.pipeline)
        generated.narrow_self_mutation_role(self.pipeline, stacks=[self, *self.region_supports])
        self._check_before_self_mutation(config)
        self._only_the_signer_signs()
        self.guard = PipelineGuard(
            self,
            "DefinitionGuard",
            pipeline=code_pipeline,
            after=generated.stage_named(code_pipeline, "Build"),
            synth_output=generated.synth_output(code_pipeline),
            topic=self.approval_topic,
            artifact_key=self.artifact_key,
            telemetry_key=self.telemetry_key,
            build_logs=self.build_logs,
            self_mutation_role=generated.self_mutation_role(self.pipeline),
            build_image=self.build_image.build_image,
            stacks=[(self.stack_name, self.region), *((s.stack_name, s.region) for s in self.region_supports)],
            asset_install=[*self._login("npm"), f"npm install -g cdk-assets@{cdk_assets_version}"],
        )
        for project in self.codebuild_projects():
            self.build_image.run(project)
        self._allow_installs()
        self._notify_approvers(config)
        self._harden_resource_policies()
        acknowledge_pipeline(
            self,
            self.pipeline,
            self.artifact_bucket,
            stages=environments,
            region_supports=self.region_supports,
            smoke_projects={stage_id: step.project for stage_id, step in self.smoke_steps.items()},
            protect_projects={stage_id: step.project for stage_id, step in self.protect_steps.items()},
            guard=self.guard,
            evidence_project=self.sign_evidence.project,
            security_diff=self.security_diff,
        )

    def _harden_resource_policies(self) -> None:
        """Every KMS key and resource policy of this stack and of its region supports, now that CDK Pipelines has
        built the pipeline and made its grants on them (the stages harden their own).

        A support stack's keys only: no resource policy of it grants a service that `confine_service_principals`
        ties to the account.
        """
        self.hardened = [
            harden_resource_policies(self),
            *(harden_resource_policies(support, confine=False) for support in self.region_supports),
        ]

    def _only_the_signer_signs(self) -> None:
        """The evidence key signs for the SignEvidence step's role alone (AU-10): its key policy denies `kms:Sign` to
        every other principal, the account's administrators included, whatever their IAM policies grant."""
        role = self.sign_evidence.project.role
        assert role is not None
        self.evidence_key.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Sign"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": role.role_arn}},
            )
        )

    def _assembly_check(self, config: PipelineConfig, *options: str) -> str:
        """The command that runs the deployed pipeline's assembly check on this step's input (`unpack_checks()` has
        written it first)."""
        return " ".join(
            [f"PIPELINE_ACCOUNT={config.account} python3 {ASSEMBLY_CHECK}", '"$CODEBUILD_SRC_DIR"', *options]
        )

    def _check_before_self_mutation(self, config: PipelineConfig) -> None:
        """Self-mutation checks the assembly itself (the check the guard ran first) and runs the CDK CLI from an empty
        directory: it reads the assembly with the pipeline account's deploy role (CM-5)."""
        generated.check_before_self_mutation(
            self.pipeline,
            stack_name=self.stack_name,
            check=f"{unpack_checks()} && {self._assembly_check(config)}",
            stacks=self._assembly_check(config, "--stacks"),
        )

    def _login(self, *tools: Tool) -> list[str]:
        """The commands that point `tools` at the package mirror, if there is one, before a step installs anything."""
        return self.package_mirror.login(*tools) if self.package_mirror is not None else []

    def _logged_in(self, *tools: Tool, leave_assembly: bool = False) -> pipelines.CodeBuildOptions | None:
        """Defaults for projects CDK Pipelines generates: log `tools` in to the package mirror first (from an empty
        directory with `leave_assembly`: npm's login reads an .npmrc in its working directory)."""
        if self.package_mirror is None:
            return None
        install = {"install": {"commands": [*(['cd "$(mktemp -d)"'] if leave_assembly else []), *self._login(*tools)]}}
        return pipelines.CodeBuildOptions(
            partial_build_spec=codebuild.BuildSpec.from_object({"version": "0.2", "phases": install})
        )

    def _allow_installs(self) -> None:
        """Let every project that installs packages read the package mirror: each logs in before it installs."""
        if self.package_mirror is None:
            return
        installers: list[codebuild.IProject] = [
            self.pipeline.synth_project,
            *(step.project for step in self.smoke_steps.values()),
            generated.self_mutation_project(self.pipeline),
            *generated.asset_projects(self.pipeline),
            self.security_diff.project,
        ]
        for project in installers:
            self.package_mirror.allow(project)

    def codebuild_projects(self) -> list[codebuild.Project]:
        """Every CodeBuild project of this stack: its own steps, the guard's check and what CDK Pipelines generates."""
        return [
            node for node in self.node.find_all() if isinstance(node, codebuild.Project) and cdk.Stack.of(node) is self
        ]

    def _code_pipeline(
        self, config: PipelineConfig, environments: tuple[EnvironmentConfig, ...]
    ) -> codepipeline.Pipeline:
        """The CodePipeline (V2) under CDK Pipelines, with our own artifact bucket in every region it acts in.

        A stage in another region than the pipeline needs a replication bucket there; CDK Pipelines
        would generate an unhardened one, so each comes from a `RegionSupportStack` of ours.
        """
        buckets: dict[str, s3.IBucket] = {config.region: self.artifact_bucket}
        self.region_supports: list[RegionSupportStack] = []
        for region in sorted({env.region for env in environments} - {config.region}):
            support = RegionSupportStack(
                self.node.scope,  # type: ignore[arg-type]
                f"{self.node.id}Support-{region}",
                env=cdk.Environment(account=config.account, region=region),
                description=f"Artifact replication bucket of the monitoring pipeline in {region}",
            )
            buckets[region] = support.bucket
            self.region_supports.append(support)
        return codepipeline.Pipeline(
            self,
            "CodePipeline",
            pipeline_type=codepipeline.PipelineType.V2,
            # One execution at a time: in the default SUPERSEDED mode a newer run's Synth (the commit's code, which
            # may write the artifact bucket) runs while an older run waits for its approval, and could replace the
            # artifacts that run's checks and approvers saw before its later steps read them (AWS CodePipeline
            # user guide, "How pipeline executions work"). A push waits behind a run that waits for approval.
            execution_mode=codepipeline.ExecutionMode.QUEUED,
            cross_region_replication_buckets=buckets,
            restart_execution_on_update=True,
        )

    def _add_wave(
        self,
        wave: tuple[EnvironmentConfig, ...],
        source: pipelines.CodePipelineSource,
        *,
        image_directory: Path,
        pipeline_account: str,
    ) -> None:
        """One wave: a security diff per stage, then one manual approval if the wave asks for one, then each
        stage deploys, in parallel, followed by its own smoke test."""
        first = wave[0]
        name = first.stage_id if len(wave) == 1 else stage_id_of(first.wave or first.name)
        stages = [
            MonitoringStage(
                self, env.stage_id, config=env, image_directory=image_directory, health_check_account=pipeline_account
            )
            for env in wave
        ]
        # Any IAM or security-group broadening stops here and notifies the approvers first, approval or not.
        pre: list[pipelines.Step] = [
            self.security_diff.step(f"SecurityDiff{stage.node.id}", stage=stage) for stage in stages
        ]
        if first.approval:
            approval = pipelines.ManualApprovalStep(
                f"Approve{name}",
                comment=(
                    f"Before promoting to {', '.join(env.stage_id for env in wave)}: the stages before it are "
                    "deployed and passed their smoke tests (GET /ready: database, cache and stream reachable and "
                    "signed in to). Review this run's compliance report: the Synth action's "
                    f"output artifact, {REPORT_TO_READ}, and the ComplianceReports report group."
                ),
            )
            for diff in pre:
                approval.add_step_dependency(diff)
            pre.append(approval)
            self.approval_actions.append(f"Approve{name}")
        pipeline_wave = self.pipeline.add_wave(name, pre=pre)
        for env, stage in zip(wave, stages, strict=True):
            smoke = self._smoke_step(env, stage, source)
            post: list[pipelines.Step] = [smoke]
            if env.protect_data:
                protect = self._termination_protection_step(env, stage)
                self.protect_steps[env.stage_id] = protect
                post.insert(0, protect)
            pipeline_wave.add_stage(stage, post=post)
            self.smoke_steps[env.stage_id] = smoke
            self.stages.append(stage)

    def _smoke_step(
        self, env: EnvironmentConfig, stage: MonitoringStage, source: pipelines.CodePipelineSource
    ) -> pipelines.CodeBuildStep:
        """Calls the stage's GET /ready, signed with the step's role, which may call exactly that route."""
        return pipelines.CodeBuildStep(
            f"Smoke{env.stage_id}",
            input=source,
            env_from_cfn_outputs={"API_URL": stage.api_url_output},
            install_commands=[*self._login("pip"), "python3 -m pip install --quiet -r requirements-smoke.txt"],
            commands=["python3 scripts/smoke_test.py"],
            role_policy_statements=[
                iam.PolicyStatement(
                    actions=["execute-api:Invoke"],
                    resources=[
                        f"arn:{self.partition}:execute-api:{env.region}:{env.account}:*/*/"
                        + "".join(HEALTH_CHECK_ROUTE)
                    ],
                )
            ],
        )

    def _termination_protection_step(self, env: EnvironmentConfig, stage: MonitoringStage) -> pipelines.CodeBuildStep:
        """Turn on termination protection of the stage's data stack, and prove it is on (CP-9, CM-5).

        CDK Pipelines' CloudFormation actions ignore a stack's `termination_protection` (aws-cdk#17871),
        so the step does what `cdk deploy` would: through the stage account's CDK deploy role, which the
        bootstrap allows to update termination protection and which trusts this account.
        """
        deploy_role = generated.deploy_role_arn(self.partition, env.account, env.region)
        data = stage.data.stack_name
        stage_account = f"--profile stage --region {env.region}"
        return pipelines.CodeBuildStep(
            f"Protect{env.stage_id}",
            commands=[
                f"aws configure set profile.stage.role_arn {deploy_role}",
                "aws configure set profile.stage.credential_source EcsContainer",
                f"aws {stage_account} cloudformation update-termination-protection --enable-termination-protection "
                f"--stack-name {data}",
                f'test "$(aws {stage_account} cloudformation describe-stacks --stack-name {data} '
                """--query 'Stacks[0].EnableTerminationProtection' --output text)" = True""",
            ],
            role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[deploy_role])],
        )

    def _notify_approvers(self, config: PipelineConfig) -> None:
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
                    "action": self.approval_actions,
                },
                f"Approval waiting: {action} in stage {stage}. Review the run and its compliance report "
                f"(Synth output, {REPORT_TO_READ}): {run_link}",
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
            if detail.get("action") == []:
                continue  # no environment asks for an approval
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

    def _sign_evidence(self, source: pipelines.CodePipelineSource, config: PipelineConfig) -> None:
        """After Synth, attest every file of the run's assembly, bound to the run, with an asymmetric KMS key
        (AU-10, SI-7, CM-3, CM-5).

        What signs is `compliance/attestation.py` as this pipeline was synthesized, embedded in the step's
        buildspec: a commit changes it only by changing the pipeline's definition, which the guard holds for a
        person. The step's only input is the Synth output; it installs nothing and runs nothing of it. The run
        it attests comes from CodePipeline and CodeBuild (the execution id, the source action's commit id, the
        build's initiator and ARN) and from the configuration (repository and branch). Its output artifact, the
        reports with the signed envelope (`compliance/evidence.intoto.jsonl`), stays with the run's artifacts;
        `make verify-evidence` checks it. Only this step may use the key, and only to sign.
        """
        self.evidence_key = kms.Key(
            self,
            "EvidenceSigningKey",
            description="Signs each pipeline run's attestation of its cloud assembly",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        signer = base64.b64encode(Path(attestation.__file__).read_bytes()).decode("ascii")
        sign = pipelines.CodeBuildStep(
            "SignEvidence",
            input=self.pipeline.synth,
            commands=[
                f"echo {signer} | base64 -d > /tmp/attestation.py",
                # Isolated: neither the environment nor a file of the assembly can put a module on its path.
                'python3 -I /tmp/attestation.py --assembly . --key-id "$EVIDENCE_KEY_ARN"',
            ],
            env={
                "EVIDENCE_KEY_ARN": self.evidence_key.key_arn,
                "EXECUTION_ID": "#{codepipeline.PipelineExecutionId}",
                "SOURCE_REVISION": source.source_attribute("CommitId"),
                "REPOSITORY": config.repository,
                "BRANCH": config.branch,
            },
            primary_output_directory=REPORT_DIRECTORY,
            role_policy_statements=[iam.PolicyStatement(actions=["kms:Sign"], resources=[self.evidence_key.key_arn])],
        )
        # A hyphen no environment's stage id can have, so the wave never collides with one.
        self.pipeline.add_wave("Evidence-Signing", post=[sign])
        self.sign_evidence = sign

    def _synth_step(self, source: pipelines.IFileSetProducer) -> pipelines.CodeBuildStep:
        """`make test` then `make synth`, with both JUnit reports published to CodeBuild report groups."""
        report_groups = (self.test_reports, self.compliance_reports)
        return pipelines.CodeBuildStep(
            "Synth",
            input=source,
            env={"CI": "true", "PYTEST_ADDOPTS": f"--junitxml={PYTEST_JUNIT}"},
            # `make` installs the Python packages, Node.js (a wheel) and the npm lock file's packages.
            install_commands=self._login("pip", "npm") or None,
            commands=list(SYNTH_COMMANDS),
            primary_output_directory=OUTPUT_DIRECTORY,
            partial_build_spec=codebuild.BuildSpec.from_object(
                {
                    "reports": {
                        self.test_reports.report_group_arn: {"files": [PYTEST_JUNIT], "file-format": "JUNITXML"},
                        self.compliance_reports.report_group_arn: {
                            "files": [JUNIT],
                            "base-directory": REPORTS,
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
