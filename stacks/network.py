"""The environment's network: no internet path in or out, AWS APIs through endpoints."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import NotInvocableByOthers, ZonesOfRegion
from components import EncryptedLogGroup
from config import EnvironmentConfig
from stacks.base import WorkloadStack

APPLICATION_SUBNETS = "Application"
DATA_SUBNETS = "Data"

# The AWS APIs the tasks, the rotation function and the log drivers call.
_INTERFACE_ENDPOINTS = {
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Kinesis": ec2.InterfaceVpcEndpointAwsService.KINESIS_STREAMS,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
}


class NetworkStack(WorkloadStack):
    """VPC, flow logs and endpoints (SC-7, SC-7(3), SC-7(4), SC-7(5), AU-12).

    Both subnet tiers are isolated: nothing in this VPC is reachable from, or can
    reach, the internet. The API is published through API Gateway and a VPC link
    to an internal load balancer, and the tasks reach AWS APIs through interface
    and gateway endpoints, so no public subnet, internet gateway or NAT exists.
    The default security group is stripped of all rules, and every flow is logged
    to an encrypted log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        telemetry_key: kms.IKey,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        self._vpc(self.use_key(telemetry_key, "TelemetryKey"))
        self.application_subnets = ec2.SubnetSelection(subnet_group_name=APPLICATION_SUBNETS)
        self.data_subnets = ec2.SubnetSelection(subnet_group_name=DATA_SUBNETS)
        self._endpoints()
        self._acknowledge_zones()

    def _vpc(self, telemetry_key: kms.IKey) -> None:
        """Two isolated subnet tiers in the configured zones, every flow logged to an encrypted log group."""
        config = self.config
        flow_logs = EncryptedLogGroup(
            self,
            "FlowLogs",
            encryption_key=telemetry_key,
            retention_days=config.log_retention_days,
            removal_policy=self.removal_policy,
        ).log_group
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            availability_zones=list(config.availability_zones),
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=APPLICATION_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
                ),
                ec2.SubnetConfiguration(name=DATA_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            restrict_default_security_group=True,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )

    def _endpoints(self) -> None:
        """S3 through a gateway endpoint, the other AWS APIs through interface endpoints open to the VPC only."""
        self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.application_subnets]
        )
        self.endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for name, service in _INTERFACE_ENDPOINTS.items():
            endpoint = self.vpc.add_interface_endpoint(
                name, service=service, subnets=self.application_subnets, private_dns_enabled=True, open=False
            )
            # The literal CIDR (not the VPC's token) lets the rule packs evaluate the rule.
            endpoint.connections.allow_default_port_from(ec2.Peer.ipv4(self.config.vpc_cidr), "HTTPS from the VPC")
            self.endpoints[name] = endpoint

    def _acknowledge_zones(self) -> None:
        # On the VPC, the narrowest construct that holds every subnet the finding names.
        acknowledge(
            self.vpc,
            "CloudFormation-Validate::W3010",
            reason=(
                "Availability zones are named per environment in the validated configuration, so synth needs "
                "no account lookup and the subnet layout is reproducible from the repository alone; the "
                "configuration check refuses a zone that is not one of the environment's region."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[ZonesOfRegion()],
            controls=["CM-2", "CM-6"],
            review_by="2027-11-30",
        )
        self._acknowledge_default_group_provider()

    def _acknowledge_default_group_provider(self) -> None:
        """Accept that the CDK's function emptying the default security group runs outside the VPC."""
        provider = self.node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        handler = provider.node.try_find_child("Handler") if provider is not None else None
        if handler is None:
            return
        acknowledge(
            handler,
            "ControlTower::CT.LAMBDA.PR.3",
            reason=(
                "The CDK's provider function removes every rule from this VPC's default security group while "
                "CloudFormation deploys the stack; it reaches no private resource and only the EC2 API, and placed "
                "in the VPC it configures it would depend on that VPC's endpoints existing first."
            ),
            kind=AcknowledgmentKind.GENERATED_CONSTRUCT,
            checks=[NotInvocableByOthers()],
            controls=["SC-7", "AC-6"],
            review_by="2027-11-30",
        )
