"""The stateless service: the monitoring service's Fargate tasks, wired to the data, behind API Gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import (
    FlowLogged,
    GivenNoCredential,
    IamAuthenticationRequired,
    IamDatabaseAuthentication,
    InIsolatedSubnets,
    MasterSecretReadOnlyByAdministrators,
    NotPublic,
)
from components.fargate_service import HardenedFargateService
from components.private_api import PrivateRestApi
from config import EnvironmentConfig
from service import contract
from stacks.base import WorkloadStack
from stacks.data import DATABASE_NAME, SERVICE_DATABASE_USER, DataStack
from stacks.network import NetworkStack

# HTTPS: API Gateway calls the load balancer's TLS listener here, through the VPC link.
LISTENER_PORT = 443


class ServiceStack(WorkloadStack):
    """The monitoring service on a hardened Fargate service, behind an IAM-authorised REST API (AC-6, IA-2, SC-7).

    The task gets endpoints and names as plain environment variables and no
    credential at all: it signs in to PostgreSQL (as its own user, TLS verified
    against the partition's RDS CA bundle) and to the cache with IAM tokens from
    its task role, which may do exactly that and write to the stream. The tasks
    reach the database and the cache on their ports only. How the container and
    its load balancer are hardened is `HardenedFargateService`'s; the port and the
    user are the service's contract (`service/contract.py`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        network: NetworkStack,
        data: DataStack,
        data_key: kms.IKey,
        telemetry_key: kms.IKey,
        image_directory: Path,
        health_check_account: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        telemetry_key = self.use_key(telemetry_key, "TelemetryKey")
        data_key = self.use_key(data_key, "DataKey")
        # "Default" is left out of logical ids: the resources keep the ids they had before the component
        # existed, the retained task log group first among them.
        self.fargate = HardenedFargateService(
            self,
            "Default",
            vpc=network.vpc,
            subnets=network.application_subnets,
            image=ecs.ContainerImage.from_asset(
                str(image_directory), platform=ecr_assets.Platform.LINUX_AMD64, build_args=contract.image_build_args()
            ),
            user=contract.container_user(),
            container_port=contract.PORT,
            listener_port=LISTENER_PORT,
            certificate_arn=config.load_balancer_tls.certificate_arn,
            environment=self._environment(data, self._ca_bundle(image_directory)),
            cpu=config.service.cpu,
            memory_mib=config.service.memory_mib,
            desired_count=config.service.desired_count,
            log_key=telemetry_key,
            log_retention_days=config.log_retention_days,
            removal_policy=self.removal_policy,
            vpc_cidr=config.vpc_cidr,
            description="Monitoring service",
            deletion_protection=config.protect_data,
        )
        self._grant_least_privilege(data, data_key)
        self._reach_the_data(data)
        self.api = PrivateRestApi(
            self,
            "Api",
            load_balancer=self.fargate.load_balancer,
            backend_domain_name=config.load_balancer_tls.domain_name,
            listener_port=LISTENER_PORT,
            stage_name=config.name,
            log_key=telemetry_key,
            log_retention_days=config.log_retention_days,
            removal_policy=self.removal_policy,
            waf_log_group_name=self.unique_name(f"aws-waf-logs-{config.name}"),
            health_check_account=health_check_account,
        )
        self.api_url = cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the monitoring API")
        self._acknowledge_environment()
        self._acknowledge_load_balancer()

    def _ca_bundle(self, image_directory: Path) -> str:
        """The RDS CA bundle of this partition, as the image holds it; an error if the image lacks it."""
        ca_bundle = f"rds-ca-{self.config.partition}.pem"
        if not (image_directory / "certs" / ca_bundle).is_file():
            # Fail closed: without its partition's bundle the service could not verify the database.
            cdk.Annotations.of(self).add_error(
                f"service/certs/{ca_bundle} is missing: the image must carry the RDS CA bundle of partition "
                f"{self.config.partition} (see README, 'RDS CA bundles')"
            )
        return f"/app/certs/{ca_bundle}"

    def _environment(self, data: DataStack, ca_bundle: str) -> dict[str, str]:
        """Endpoints and names only: the service signs in to the database and the cache with IAM tokens from
        its task role, so the task receives no password at all."""
        config = self.config
        return {
            "ENVIRONMENT": config.name,
            "PORT": str(contract.PORT),
            "AWS_REGION": self.region,
            "DB_HOST": data.database.db_instance_endpoint_address,
            "DB_PORT": str(config.database.port),
            "DB_NAME": DATABASE_NAME,
            "DB_USER": SERVICE_DATABASE_USER,
            "DB_CA_BUNDLE": ca_bundle,
            "REDIS_HOST": data.cache.attr_primary_end_point_address,
            "REDIS_PORT": data.cache.attr_primary_end_point_port,
            "REDIS_USER": data.cache_user.user_name,
            "REDIS_REPLICATION_GROUP": data.cache.ref,
            "KINESIS_STREAM": data.stream.stream_name,
            "READY_TIMEOUT_SECONDS": "2",
        }

    def _reach_the_data(self, data: DataStack) -> None:
        """The tasks reach the database and the cache on their ports (the stream is an AWS API, reached through
        its VPC endpoint).

        The data stack's ingress rules are created here, so the data stack never depends on this one.
        """
        tasks = self.fargate.security_group
        for name, target, port in (
            ("Database", data.database_security_group, self.config.database.port),
            ("Cache", data.cache_security_group, self.config.cache.port),
        ):
            ec2.CfnSecurityGroupIngress(
                self,
                f"{name}IngressFromService",
                group_id=target.security_group_id,
                source_security_group_id=tasks.security_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"Monitoring service tasks to the {name.lower()}",
            )
            tasks.add_egress_rule(target, ec2.Port.tcp(port), f"To the {name.lower()}")

    def _grant_least_privilege(self, data: DataStack, data_key: kms.IKey) -> None:
        """Exact actions on exact resources, instead of the wildcard actions the CDK's grants produce."""
        # IAM database authentication as the service's own user, on this instance only.
        self.fargate.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["rds-db:connect"],
                resources=[
                    self.format_arn(
                        service="rds-db",
                        resource="dbuser",
                        resource_name=f"{data.database.instance_resource_id}/{SERVICE_DATABASE_USER}",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        self.fargate.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "kinesis:PutRecord",
                    "kinesis:PutRecords",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:ListShards",
                ],
                resources=[data.stream.stream_arn],
            )
        )
        self.fargate.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"kinesis.{self.region}.{self.url_suffix}"}},
            )
        )
        # The cache accepts the service's IAM user, signed in with the task role.
        self.fargate.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["elasticache:Connect"],
                resources=[
                    self.format_arn(
                        service="elasticache",
                        resource="replicationgroup",
                        resource_name=data.cache.ref,
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    ),
                    data.cache_user.attr_arn,
                ],
            )
        )

    def _acknowledge_environment(self) -> None:
        acknowledge(
            self.fargate.task_definition.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-ECS2",
            reason=(
                "Only endpoints and names (database host, port, name and user, cache host, port and user, stream "
                "name, environment) are environment variables; they are not secret and change with each deployment. "
                "The task is given no credential and may fetch none: it signs in to the database as its own IAM "
                "database user and to the cache as its own IAM user, with short-lived tokens signed by its task "
                "role. The database also has a master user, which signs in with a password: that password is a "
                "Secrets Manager secret, which only the functions that administer the database may read."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[
                GivenNoCredential(),
                IamDatabaseAuthentication(),
                MasterSecretReadOnlyByAdministrators(),
                IamAuthenticationRequired(on="AWS::ElastiCache::ReplicationGroup"),
            ],
            controls=["IA-5(7)", "SC-28"],
            review_by="2027-03-31",
        )

    def _acknowledge_load_balancer(self) -> None:
        config = self.config
        load_balancer = self.fargate.load_balancer.node.default_child
        for rule in (
            "AwsSolutions-ELB2",
            "NIST.800.53.R5-ELBLoggingEnabled",
            "ControlTower::CT.ELASTICLOADBALANCING.PR.6",
        ):
            acknowledge(
                load_balancer,  # type: ignore[arg-type]
                rule,
                reason=(
                    "A Network Load Balancer's access logs record TLS connections: who connected, when, and the "
                    "handshake, not the caller or the request. Only the API Gateway VPC link reaches this internal "
                    "load balancer, and the API's stage logs every request with its signed caller, method, path "
                    "and status (access logs, execution logs and WAF logs); the VPC's flow logs record every "
                    "connection."
                ),
                kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
                checks=[NotPublic(), InIsolatedSubnets(), FlowLogged()],
                controls=["AU-2", "AU-12"],
                review_by="2027-03-31",
            )
        for rule in ("NIST.800.53.R5-ELBDeletionProtectionEnabled", "ControlTower::CT.ELASTICLOADBALANCING.PR.5"):
            if config.protect_data:
                break
            acknowledge(
                load_balancer,  # type: ignore[arg-type]
                rule,
                reason=(
                    f"{config.stage_id} sets protect_data: false so the environment can be torn down and rebuilt "
                    "from code; the load balancer holds no state, and an accidental deletion exposes nothing. "
                    "Every environment with an approval enables deletion protection."
                ),
                kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
                checks=[NotPublic(), InIsolatedSubnets()],
                controls=["CM-3", "SC-5"],
                review_by="2027-06-30",
            )
