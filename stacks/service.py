"""The stateless service: Fargate tasks behind an internal load balancer and API Gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from compliance import acknowledge
from compliance.checks import (
    AssumableOnlyBy,
    CredentialsOnlyAsSecrets,
    FlowLogged,
    IamAuthenticationRequired,
    InIsolatedSubnets,
    NotPublic,
    WildcardGrantsOnly,
)
from components import EncryptedLogGroup
from components.private_api import PrivateRestApi
from config import EnvironmentConfig
from stacks.base import WorkloadStack
from stacks.data import DATABASE_NAME, SERVICE_DATABASE_USER, DataStack
from stacks.network import NetworkStack

CONTAINER_PORT = 8080
LISTENER_PORT = 80
# The image's non-root user (see service/Dockerfile).
CONTAINER_USER = "10001:10001"


class ServiceStack(WorkloadStack):
    """ECS on Fargate behind an internal NLB and an IAM-authorised REST API (AC-6, AU-12, CM-7, SC-7, SI-4).

    The task gets endpoints and names as plain environment variables and no
    credential at all: it signs in to PostgreSQL (as its own user, TLS verified
    against the partition's RDS CA bundle) and to the cache with IAM tokens from
    its task role.
    It runs as a non-root user on a read-only root filesystem, in isolated
    subnets, with Container Insights (v2), a deployment circuit breaker that rolls
    back, and logs to an encrypted, retained log group.
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
        vpc = network.vpc
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
        )
        self.task_log_group = task_logs = EncryptedLogGroup(
            self,
            "TaskLogs",
            encryption_key=telemetry_key,
            retention_days=config.log_retention_days,
            removal_policy=self.removal_policy,
        ).log_group
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=config.service.cpu,
            memory_limit_mib=config.service.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        ca_bundle = f"rds-ca-{config.partition}.pem"
        if not (image_directory / "certs" / ca_bundle).is_file():
            # Fail closed: without its partition's bundle the service could not verify the database.
            cdk.Annotations.of(self).add_error(
                f"service/certs/{ca_bundle} is missing: the image must carry the RDS CA bundle of partition "
                f"{config.partition} (see README, 'RDS CA bundles')"
            )
        self.container = self.task_definition.add_container(
            "Service",
            image=ecs.ContainerImage.from_asset(str(image_directory), platform=ecr_assets.Platform.LINUX_AMD64),
            user=CONTAINER_USER,
            # The container's own hard limit (the whole task's memory): AWS Config's
            # ecs-task-definition-memory-hard-limit reads the container, not the task.
            memory_limit_mib=config.service.memory_mib,
            readonly_root_filesystem=True,
            port_mappings=[ecs.PortMapping(container_port=CONTAINER_PORT)],
            logging=ecs.LogDrivers.aws_logs(log_group=task_logs, stream_prefix="service"),
            # Endpoints and names only. The service signs in to the database and the cache with IAM tokens from
            # its task role, so the task receives no password at all.
            environment={
                "ENVIRONMENT": config.name,
                "PORT": str(CONTAINER_PORT),
                "AWS_REGION": self.region,
                "DB_HOST": data.database.db_instance_endpoint_address,
                "DB_PORT": str(config.database.port),
                "DB_NAME": DATABASE_NAME,
                "DB_USER": SERVICE_DATABASE_USER,
                "DB_CA_BUNDLE": f"/app/certs/{ca_bundle}",
                "REDIS_HOST": data.cache.attr_primary_end_point_address,
                "REDIS_PORT": data.cache.attr_primary_end_point_port,
                "REDIS_USER": data.cache_user.user_name,
                "REDIS_REPLICATION_GROUP": data.cache.ref,
                "KINESIS_STREAM": data.stream.stream_name,
                "READY_TIMEOUT_SECONDS": "2",
            },
        )
        self._grant_least_privilege(data, data_key)

        self.security_group = ec2.SecurityGroup(
            self, "ServiceSecurityGroup", vpc=vpc, description="Monitoring service tasks", allow_all_outbound=False
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=config.service.desired_count,
            vpc_subnets=network.application_subnets,
            security_groups=[self.security_group],
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            enable_execute_command=False,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )

        # The tasks talk only to the database, the cache and the VPC endpoints. The data
        # stack's ingress rules are created here, so the data stack never depends on this one.
        for name, target, port in (
            ("Database", data.database_security_group, config.database.port),
            ("Cache", data.cache_security_group, config.cache.port),
        ):
            ec2.CfnSecurityGroupIngress(
                self,
                f"{name}IngressFromService",
                group_id=target.security_group_id,
                source_security_group_id=self.security_group.security_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"Monitoring service tasks to the {name.lower()}",
            )
            self.security_group.add_egress_rule(target, ec2.Port.tcp(port), f"To the {name.lower()}")
        # HTTPS to AWS APIs. The subnets have no route to the internet, so this reaches only
        # the interface endpoints and the S3 gateway endpoint (ECR image layers); S3's prefix
        # list id would need an account lookup at synth.
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs through VPC endpoints")

        self.load_balancer_security_group = ec2.SecurityGroup(
            self, "LoadBalancerSecurityGroup", vpc=vpc, description="Internal NLB", allow_all_outbound=False
        )
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=network.application_subnets,
            security_groups=[self.load_balancer_security_group],
            cross_zone_enabled=True,
            deletion_protection=config.protect_data,
            # API Gateway's VPC link reaches the NLB over PrivateLink, whose source addresses are not in
            # this VPC; inbound rules would drop every API call. The tasks' group still admits only the NLB.
            enforce_security_group_inbound_rules_on_private_link_traffic=False,
        )
        # API Gateway's VPC link reaches the NLB from inside the VPC.
        self.load_balancer_security_group.add_ingress_rule(
            ec2.Peer.ipv4(config.vpc_cidr), ec2.Port.tcp(LISTENER_PORT), "API Gateway VPC link"
        )
        self.load_balancer_security_group.add_egress_rule(
            self.security_group, ec2.Port.tcp(CONTAINER_PORT), "Service tasks"
        )
        self.security_group.add_ingress_rule(
            self.load_balancer_security_group, ec2.Port.tcp(CONTAINER_PORT), "Internal NLB"
        )
        listener = self.load_balancer.add_listener("Listener", port=LISTENER_PORT, protocol=elbv2.Protocol.TCP)
        listener.add_targets(
            "Service",
            port=CONTAINER_PORT,
            protocol=elbv2.Protocol.TCP,
            targets=[self.service],
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.HTTP,
                path="/health",
                healthy_http_codes="200",
                interval=cdk.Duration.seconds(15),
            ),
            deregistration_delay=cdk.Duration.seconds(30),
        )

        self.api = PrivateRestApi(
            self,
            "Api",
            load_balancer=self.load_balancer,
            listener_port=LISTENER_PORT,
            stage_name=config.name,
            log_key=telemetry_key,
            log_retention_days=config.log_retention_days,
            removal_policy=self.removal_policy,
            waf_log_group_name=self.unique_name(f"aws-waf-logs-{config.name}"),
            health_check_account=health_check_account,
        )
        self.api_url = cdk.CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the monitoring API")
        self._acknowledge()

    def _grant_least_privilege(self, data: DataStack, data_key: kms.IKey) -> None:
        """Exact actions on exact resources, instead of the wildcard actions the CDK's grants produce."""
        # IAM database authentication as the service's own user, on this instance only.
        self.task_definition.task_role.add_to_principal_policy(
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
        self.task_definition.task_role.add_to_principal_policy(
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
        self.task_definition.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"kinesis.{self.region}.{self.url_suffix}"}},
            )
        )
        # The cache accepts the service's IAM user, signed in with the task role.
        self.task_definition.task_role.add_to_principal_policy(
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

    def _acknowledge(self) -> None:
        config = self.config
        acknowledge(
            self.task_definition.obtain_execution_role().node.find_child("DefaultPolicy").node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-IAM5[Resource::*]",
            reason=(
                "ecr:GetAuthorizationToken does not support resource-level permissions; every other action "
                "of the execution role names its repository, log group, secrets or key."
            ),
            checks=[WildcardGrantsOnly(("ecr:GetAuthorizationToken",)), AssumableOnlyBy("ecs-tasks.amazonaws.com")],
            controls=["AC-6"],
        )
        acknowledge(
            self.task_definition.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-ECS2",
            reason=(
                "Only endpoints and names (database host, port, name and user, cache host, port and user, stream "
                "name, environment) are environment variables; they are not secret and change with each deployment. "
                "The task holds no credential: it signs in to the database and the cache with short-lived IAM "
                "tokens signed by its task role."
            ),
            checks=[
                CredentialsOnlyAsSecrets(),
                IamAuthenticationRequired(on="AWS::RDS::DBInstance"),
                IamAuthenticationRequired(on="AWS::ElastiCache::ReplicationGroup"),
            ],
            controls=["IA-5(7)", "SC-28"],
        )
        for rule in ("AwsSolutions-ELB2", "NIST.800.53.R5-ELBLoggingEnabled"):
            acknowledge(
                self.load_balancer.node.default_child,  # type: ignore[arg-type]
                rule,
                reason=(
                    "Network Load Balancers write access logs only for TLS listeners; this internal TCP listener "
                    "is reached only through the API Gateway VPC link, whose stage logs every request (access "
                    "logs, execution logs and WAF logs)."
                ),
                checks=[NotPublic(), InIsolatedSubnets(), FlowLogged()],
                controls=["AU-2", "AU-12"],
            )
        acknowledge(
            self.load_balancer.node.find_child("Listener").node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-ELBv2ACMCertificateRequired",
            reason=(
                "Client TLS terminates at API Gateway. The hop from the VPC link through this internal load "
                "balancer to the tasks is plain HTTP: a TLS listener needs an ACM certificate for a domain the "
                "default configuration does not have; add a certificate and a TLS listener once a domain exists."
            ),
            checks=[NotPublic(on="AWS::ElasticLoadBalancingV2::LoadBalancer"), InIsolatedSubnets(), FlowLogged()],
            controls=["SC-8", "SC-8(1)"],
        )
        if not config.protect_data:
            acknowledge(
                self.load_balancer.node.default_child,  # type: ignore[arg-type]
                "NIST.800.53.R5-ELBDeletionProtectionEnabled",
                reason=(
                    f"{config.stage_id} sets protect_data: false so the environment can be torn down and rebuilt "
                    "from code; the load balancer holds no state, and an accidental deletion exposes nothing. "
                    "Every environment with an approval enables deletion protection."
                ),
                checks=[NotPublic(), InIsolatedSubnets()],
                controls=["CM-3", "SC-5"],
            )
