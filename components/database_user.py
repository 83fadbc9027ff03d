"""The service's own PostgreSQL user, created at deploy time by a function inside the stage's VPC."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import (
    SUBNET,
    AssumableOnlyBy,
    EncryptedWithCmk,
    NotInvocableByOthers,
    ResolvedAtDeploy,
    WildcardGrantsOnly,
)
from components.database_user_function.index import grant_statements
from components.encrypted_log_group import EncryptedLogGroup
from config import PROJECT_ROOT

# `make setup` vendors pg8000 and the RDS CA bundles next to the handler here (no Docker, no download at synth).
FUNCTION_BUILD = PROJECT_ROOT / "build" / "database-user-function"


class DatabaseUser(Construct):
    """A least-privilege PostgreSQL user that signs in with IAM only (AC-2, AC-6, IA-2, IA-5, SC-8).

    A custom resource invokes a Python function attached to the VPC, which reads the master secret,
    signs in over TLS verified against the RDS CA bundle of the partition, and creates the user
    idempotently (`components/database_user_function`). The user has no password, so the master
    secret's rotation never affects it; the task that signs in as it receives no database password.
    The custom resource runs again whenever the grants change.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        database: rds.DatabaseInstance,
        database_security_group: ec2.ISecurityGroup,
        port: int,
        master_secret: secretsmanager.ISecret,
        secret_key: kms.IKey,
        user_name: str,
        database_name: str,
        schema: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        log_key: kms.IKey,
        log_retention_days: int,
        removal_policy: cdk.RemovalPolicy,
        partition: str,
        code_directory: Path = FUNCTION_BUILD,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (code_directory / "index.py").is_file():
            raise FileNotFoundError(f"{code_directory} is not built: run `make setup` (it vendors pg8000 there)")
        self.user_name = user_name
        self._network(vpc, database_security_group, port)
        log_group = EncryptedLogGroup(
            self, "Logs", encryption_key=log_key, retention_days=log_retention_days, removal_policy=removal_policy
        ).log_group
        self._role(log_group, master_secret, secret_key)
        self._function(code_directory, vpc, subnets, log_group)
        self._user(
            database=database,
            master_secret=master_secret,
            port=port,
            user_name=user_name,
            database_name=database_name,
            schema=schema,
            partition=partition,
        )
        self._acknowledge()

    def _network(self, vpc: ec2.IVpc, database_security_group: ec2.ISecurityGroup, port: int) -> None:
        """The function's security group: out to the database and to AWS APIs, and into the database's group."""
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Database user provisioning", allow_all_outbound=False
        )
        self.security_group.add_egress_rule(database_security_group, ec2.Port.tcp(port), "To the database")
        # Secrets Manager through its interface endpoint, and CloudFormation's response URL through the S3
        # gateway endpoint: the subnets have no other route out.
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs through VPC endpoints")
        ec2.CfnSecurityGroupIngress(
            self,
            "DatabaseIngress",
            group_id=database_security_group.security_group_id,
            source_security_group_id=self.security_group.security_group_id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description="Database user provisioning function to the database",
        )

    def _role(self, log_group: logs.ILogGroup, master_secret: secretsmanager.ISecret, secret_key: kms.IKey) -> None:
        """The function's role, with one customer-managed policy of exactly what it does (no AWS-managed policy,
        no inline one)."""
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Creates the service's database user; reads the master secret",
        )
        stack = cdk.Stack.of(self)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Database user provisioning: its network interfaces, its logs, the master secret",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="ElasticNetworkInterfaces",
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="OwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="MasterSecret",
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=[master_secret.secret_arn],
                ),
                iam.PolicyStatement(
                    sid="MasterSecretKey",
                    actions=["kms:Decrypt"],
                    resources=[secret_key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"secretsmanager.{stack.region}.{stack.url_suffix}"}
                    },
                ),
            ],
        )

    def _function(
        self, code_directory: Path, vpc: ec2.IVpc, subnets: ec2.SubnetSelection, log_group: logs.ILogGroup
    ) -> None:
        self.function = lambda_.Function(
            self,
            "Function",
            description="Creates the monitoring service's IAM-authenticated PostgreSQL user and its grants",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(code_directory)),
            role=self.role,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            timeout=cdk.Duration.minutes(2),
            memory_size=256,
            log_group=log_group,
        )
        # Lambda checks the role's network-interface permissions when it creates the function.
        self.function.node.add_dependency(self.policy)

    def _user(
        self,
        *,
        database: rds.DatabaseInstance,
        master_secret: secretsmanager.ISecret,
        port: int,
        user_name: str,
        database_name: str,
        schema: str,
        partition: str,
    ) -> None:
        """The custom resource: the function creates the user and its grants, and again whenever they change."""
        grants = grant_statements(user=user_name, database=database_name, schema=schema)
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type="Custom::DatabaseUser",
            properties={
                "MasterSecretArn": master_secret.secret_arn,
                "Host": database.db_instance_endpoint_address,
                "Port": str(port),
                "Database": database_name,
                "User": user_name,
                "Schema": schema,
                "Partition": partition,
                # A change to the grants changes this, and CloudFormation runs the function again.
                "GrantsDigest": hashlib.sha256(json.dumps(grants).encode()).hexdigest(),
            },
        )
        self.resource.node.add_dependency(database, self.policy)

    def _acknowledge(self) -> None:
        function = self.function.node.default_child
        assert function is not None
        acknowledge(
            self.policy.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-IAM5[Resource::*]",
            reason=(
                "A function attached to a VPC must create, describe and delete its network interfaces; EC2's "
                "DescribeNetworkInterfaces and DescribeSubnets do not support resource-level permissions."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[
                WildcardGrantsOnly(
                    (
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:CreateNetworkInterface",
                        "ec2:DeleteNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:UnassignPrivateIpAddresses",
                    )
                ),
                AssumableOnlyBy("lambda.amazonaws.com"),
            ],
            controls=["AC-6"],
            review_by="2027-03-31",
        )
        self._acknowledge_deployment_invocation(function)

    def _acknowledge_deployment_invocation(self, function: IConstruct) -> None:
        """What follows from CloudFormation invoking the function once per deployment, in the stage's subnets."""
        acknowledge(
            function,
            "NIST.800.53.R5-LambdaDLQ",
            reason=(
                "CloudFormation invokes this function once per deployment and waits for its answer: a failed or "
                "lost invocation fails the deployment, where it is seen and retried, so no event is left to "
                "dead-letter. The function logs every failure, and a failed deployment stops the promotion."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[NotInvocableByOthers(), EncryptedWithCmk(on="AWS::Logs::LogGroup")],
            controls=["SI-2", "CP-10"],
            review_by="2027-09-30",
        )
        acknowledge(
            function,
            "ControlTower::CT.LAMBDA.PR.3",
            reason=(
                "The function runs in the stage's application subnets, which the network stack creates; the "
                "synth-time rule reads only subnets of the same template, while the Control Tower hook sees the "
                "subnet ids CloudFormation resolves from the cross-stack references."
            ),
            kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
            checks=[ResolvedAtDeploy(prop="VpcConfig.SubnetIds", to=SUBNET)],
            controls=["SC-7"],
            review_by="2027-11-30",
        )
        acknowledge(
            function,
            "NIST.800.53.R5-LambdaConcurrency",
            reason=(
                "CloudFormation invokes it once per deployment of the stage; a reserved concurrency would take from "
                "the account's unreserved pool, and Lambda refuses any reservation that leaves less than the "
                "minimum, which new accounts are at."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[NotInvocableByOthers()],
            controls=["SC-5", "AC-6"],
            review_by="2027-09-30",
        )
