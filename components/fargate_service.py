"""A hardened container service: Fargate tasks behind an internal Network Load Balancer, TLS on every hop."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import AssumableOnlyBy, WildcardGrantsOnly
from components.encrypted_log_group import EncryptedLogGroup


class HardenedFargateService(Construct):
    """One hardened container on Fargate behind an internal NLB (AC-6, AU-9, AU-11, AU-12, CM-7, SC-7, SC-8(1), SI-4).

    It owns the cluster (Container Insights on), the task log group (encrypted with `log_key`, kept
    for `log_retention_days`), the task definition and its one container, the tasks' security group,
    the Fargate service, and the internal load balancer with its security group, meant for an API
    Gateway VPC link (`PrivateRestApi`). The load balancer's listener is TLS, with the ACM certificate
    `certificate_arn` and a FIPS security policy, and it speaks TLS to the tasks too, checking their
    health over HTTPS: the container must serve TLS on `container_port` (with any certificate: the load
    balancer does not validate a target's). The container runs as
    `user`, which must be a numeric non-root `UID:GID`, on a read-only root filesystem without any
    Linux capability, and logs through awslogs. The tasks get no public address, ECS Exec is off,
    and a deployment circuit breaker rolls back a deployment whose tasks never become healthy. The
    tasks admit only the load balancer and send only HTTPS (in isolated subnets, that reaches only
    the VPC endpoints); the load balancer admits `vpc_cidr` on `listener_port`. What else the tasks
    reach and what their code may do, the caller grants through `security_group` and `task_role`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        image: ecs.ContainerImage,
        user: str,
        container_port: int,
        listener_port: int,
        certificate_arn: str,
        environment: Mapping[str, str],
        cpu: int,
        memory_mib: int,
        desired_count: int,
        log_key: kms.IKey,
        log_retention_days: int,
        removal_policy: cdk.RemovalPolicy,
        vpc_cidr: str,
        description: str,
        deletion_protection: bool,
        health_check_path: str = "/health",
    ) -> None:
        super().__init__(scope, construct_id)
        _require_non_root(user)
        # "enabled": the one value CT.ECS.PR.2 accepts; the alarms' RunningTaskCount is a standard metric.
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.task_log_group = EncryptedLogGroup(
            self,
            "TaskLogs",
            encryption_key=log_key,
            retention_days=log_retention_days,
            removal_policy=removal_policy,
        ).log_group
        self._task_definition(image, user, container_port, environment, cpu, memory_mib)
        self._service(vpc, subnets, desired_count, description)
        self._load_balancer(vpc, subnets, container_port, listener_port, vpc_cidr, deletion_protection)
        self._route_to_tasks(container_port, listener_port, certificate_arn, health_check_path)
        self._acknowledge()

    def _task_definition(
        self,
        image: ecs.ContainerImage,
        user: str,
        container_port: int,
        environment: Mapping[str, str],
        cpu: int,
        memory_mib: int,
    ) -> None:
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        # The service's user holds no capability anyway; dropping them all also empties the bounding set, so
        # nothing the image carries (a setuid or file-capability binary) can gain one (CM-7, AC-6).
        no_capabilities = ecs.LinuxParameters(self, "LinuxParameters")
        no_capabilities.drop_capabilities(ecs.Capability.ALL)
        self.container = self.task_definition.add_container(
            "Service",
            image=image,
            user=user,
            linux_parameters=no_capabilities,
            memory_limit_mib=memory_mib,  # the container's own hard limit (CT.ECS.PR.7, Config reads the container)
            readonly_root_filesystem=True,
            port_mappings=[ecs.PortMapping(container_port=container_port)],
            logging=ecs.LogDrivers.aws_logs(log_group=self.task_log_group, stream_prefix="service"),
            environment=dict(environment),
        )

    @property
    def task_role(self) -> iam.IRole:
        """The role the container's code runs with; the caller grants it exactly what the code does."""
        return self.task_definition.task_role

    def _service(self, vpc: ec2.IVpc, subnets: ec2.SubnetSelection, desired_count: int, description: str) -> None:
        self.security_group = ec2.SecurityGroup(
            self, "ServiceSecurityGroup", vpc=vpc, description=f"{description} tasks", allow_all_outbound=False
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=desired_count,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            enable_execute_command=False,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        # HTTPS to AWS APIs. In isolated subnets this reaches only the interface endpoints and the S3 gateway
        # endpoint (ECR image layers); S3's prefix list id would need an account lookup at synth.
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs through VPC endpoints")

    def _load_balancer(
        self,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        container_port: int,
        listener_port: int,
        vpc_cidr: str,
        deletion_protection: bool,
    ) -> None:
        self.load_balancer_security_group = ec2.SecurityGroup(
            self, "LoadBalancerSecurityGroup", vpc=vpc, description="Internal NLB", allow_all_outbound=False
        )
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=subnets,
            security_groups=[self.load_balancer_security_group],
            cross_zone_enabled=True,
            deletion_protection=deletion_protection,
            # API Gateway's VPC link reaches the NLB over PrivateLink, whose source addresses are not in
            # this VPC; inbound rules would drop every API call. The tasks' group still admits only the NLB.
            enforce_security_group_inbound_rules_on_private_link_traffic=False,
        )
        # The VPC link reaches the NLB from inside the VPC; the literal CIDR lets the rule packs evaluate the rule.
        self.load_balancer_security_group.add_ingress_rule(
            ec2.Peer.ipv4(vpc_cidr), ec2.Port.tcp(listener_port), "API Gateway VPC link"
        )
        self.load_balancer_security_group.add_egress_rule(
            self.security_group, ec2.Port.tcp(container_port), "Service tasks"
        )
        self.security_group.add_ingress_rule(
            self.load_balancer_security_group, ec2.Port.tcp(container_port), "Internal NLB"
        )

    def _route_to_tasks(
        self, container_port: int, listener_port: int, certificate_arn: str, health_check_path: str
    ) -> None:
        """TLS in, with the certificate API Gateway verifies, and TLS on to the tasks (SC-8, SC-8(1), SC-13)."""
        self.listener = self.load_balancer.add_listener(
            "Listener",
            port=listener_port,
            protocol=elbv2.Protocol.TLS,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
            # TLS 1.2 and 1.3 with FIPS 140-3 validated cryptography at the listener (Network Load Balancer guide,
            # "Security policies": https://docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html).
            ssl_policy=elbv2.SslPolicy.FIPS_TLS13_12_RES,
        )
        self.listener.add_targets(
            "Service",
            port=container_port,
            # The load balancer opens a TLS connection to each task and "does not validate these certificates"
            # (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html).
            protocol=elbv2.Protocol.TLS,
            targets=[self.service],
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.HTTPS,
                path=health_check_path,
                healthy_http_codes="200",
                interval=cdk.Duration.seconds(15),
            ),
            deregistration_delay=cdk.Duration.seconds(30),
        )

    def _acknowledge(self) -> None:
        execution_role = self.task_definition.execution_role
        assert execution_role is not None, "an asset image and awslogs give the task definition an execution role"
        acknowledge(
            execution_role.node.find_child("DefaultPolicy").node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-IAM5[Resource::*]",
            reason=(
                "ecr:GetAuthorizationToken does not support resource-level permissions; every other action "
                "of the execution role names its repository, log group, secrets or key."
            ),
            kind=AcknowledgmentKind.GENERATED_CONSTRUCT,
            checks=[WildcardGrantsOnly(("ecr:GetAuthorizationToken",)), AssumableOnlyBy("ecs-tasks.amazonaws.com")],
            controls=["AC-6"],
            review_by="2027-03-31",
        )


def _require_non_root(user: str) -> None:
    """A numeric `UID:GID` other than root's, so ECS can verify "not root" without resolving a name."""
    uid, _, gid = user.partition(":")
    if not (uid.isdigit() and gid.isdigit() and int(uid) != 0 and int(gid) != 0):
        raise ValueError(f"container user {user!r} is not a numeric non-root UID:GID")
