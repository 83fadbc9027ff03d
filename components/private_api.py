"""A REST API that fronts an internal load balancer: IAM-authorised, WAF-protected, traced and logged."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import (
    AccessLogged,
    AssumableOnlyBy,
    EncryptedEndToEnd,
    IamAuthenticationRequired,
    NotCached,
    PrivateIntegration,
)
from components.encrypted_log_group import EncryptedLogGroup

# AWS managed rule groups that cover the OWASP top risks, known-bad inputs and bad IPs.
_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)


class PrivateRestApi(Construct):
    """API Gateway in front of a VPC-internal NLB (AC-3, AC-17, AU-2, AU-12, SC-5, SC-7, SC-8(1), SI-4).

    Every method requires SigV4 (IAM) authorisation and validated request
    parameters; the stage has X-Ray tracing, execution logging, metrics and JSON
    access logs to an encrypted log group; a WAFv2 web ACL with AWS managed rules
    and a rate limit sits in front of the stage. Traffic reaches the service only
    through a VPC link (the load balancer has no public address), over HTTPS to
    `https://<backend_domain_name>:<listener_port>`: API Gateway verifies that the
    load balancer's certificate is issued by a certificate authority it trusts for
    that name, so the load balancer's TLS listener must present such a certificate.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        load_balancer: elbv2.INetworkLoadBalancer,
        backend_domain_name: str,
        listener_port: int,
        stage_name: str,
        log_key: kms.IKey,
        log_retention_days: int,
        removal_policy: cdk.RemovalPolicy,
        waf_log_group_name: str,
        health_check_account: str | None = None,
        rate_limit_per_5_min: int = 2000,
    ) -> None:
        super().__init__(scope, construct_id)
        self._log_key, self._log_retention_days, self._removal_policy = log_key, log_retention_days, removal_policy
        self._stage_name = stage_name
        access_logs = EncryptedLogGroup(
            self,
            "AccessLogs",
            encryption_key=log_key,
            retention_days=log_retention_days,
            removal_policy=removal_policy,
        ).log_group
        self.vpc_link = apigw.VpcLink(self, "VpcLink", targets=[load_balancer])
        self._rest_api(access_logs, health_check_account)
        # "To use HTTPS, specify an uri that contains a secure server name"; the VPC link, not the name, picks the
        # load balancer (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-private-integration.html).
        # A name the certificate does not cover fails every call: "Host name ... does not match the certificate
        # subject" (https://repost.aws/knowledge-center/api-gateway-500-error-vpc).
        self._routes(f"https://{backend_domain_name}:{listener_port}")
        self._web_acl(rate_limit_per_5_min)
        self._waf_logging(waf_log_group_name)
        self._execution_logs()
        self._acknowledge()

    def _rest_api(self, access_logs: logs.ILogGroup, health_check_account: str | None) -> None:
        """The API and its stage: SigV4 on every method, tracing, metrics, execution and JSON access logs."""
        self.api = apigw.RestApi(
            self,
            "Api",
            description="Monitoring service API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Execution logging needs the account-level CloudWatch role; a fresh account has none.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=self._stage_name,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.INFO,
                data_trace_enabled=False,  # request bodies may hold monitoring data: keep them out of logs
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                throttling_rate_limit=100,
                throttling_burst_limit=200,
            ),
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            disable_execute_api_endpoint=False,
            policy=_resource_policy(health_check_account),
        )

    def _routes(self, backend: str) -> None:
        """`/` and `/{proxy+}` to the load balancer through the VPC link, with validated request parameters."""
        validator = self.api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        self.api.root.add_method("GET", self._integration(f"{backend}/"), request_validator=validator)
        proxy = self.api.root.add_resource("{proxy+}")
        proxy.add_method(
            "ANY",
            self._integration(f"{backend}/{{proxy}}", proxy=True),
            request_parameters={"method.request.path.proxy": True},
            request_validator=validator,
        )

    def _web_acl(self, rate_limit_per_5_min: int) -> None:
        """AWS managed rule groups and a rate limit per IP address, in front of the stage."""
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("MonitoringApi"),
            rules=[_managed_rule(name, priority) for priority, name in enumerate(_MANAGED_RULE_GROUPS)]
            + [
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerIp",
                    priority=len(_MANAGED_RULE_GROUPS),
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit_per_5_min, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=_visibility("RateLimitPerIp"),
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )

    def _waf_logging(self, waf_log_group_name: str) -> None:
        # WAF delivers only to log groups named aws-waf-logs-*; the caller derives the rest from the stage.
        waf_logs = EncryptedLogGroup(
            self,
            "WafLogs",
            encryption_key=self._log_key,
            retention_days=self._log_retention_days,
            removal_policy=self._removal_policy,
            log_group_name=waf_log_group_name,
        ).log_group
        wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=waf_logs.log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )

    def _execution_logs(self) -> None:
        """The execution log group, created before the stage so it is ours (encrypted, retained)."""
        # Execution logs go to a group API Gateway names after the API and stage; creating it here
        # encrypts it and sets its retention (otherwise API Gateway creates it: no key, kept forever).
        execution_logs = EncryptedLogGroup(
            self,
            "ExecutionLogs",
            encryption_key=self._log_key,
            retention_days=self._log_retention_days,
            removal_policy=self._removal_policy,
            log_group_name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{self._stage_name}",
        )
        self.api.deployment_stage.node.add_dependency(execution_logs)

    def _acknowledge(self) -> None:
        for method in self.api.methods:
            acknowledge(
                method.node.default_child,  # type: ignore[arg-type]
                "AwsSolutions-COG4",
                reason=(
                    "The API is for AWS principals (services and engineers' federated roles), so it uses IAM "
                    "(SigV4) authorisation instead of a Cognito user pool."
                ),
                kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
                checks=[IamAuthenticationRequired()],
                controls=["AC-3", "IA-2"],
                review_by="2027-11-30",
            )
        acknowledge(
            self.api.deployment_stage.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted",
            reason=(
                "Responses are specific to the signed caller and to the moment they are read. A cache keyed on "
                "the path alone would serve one principal's answer to another; keyed on the SigV4 "
                "Authorization header it would never hit, since every signature differs."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[NotCached()],
            controls=["SC-28(1)", "AC-4"],
            review_by="2027-11-30",
        )
        acknowledge(
            self.api.deployment_stage.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-APIGWSSLEnabled",
            reason=(
                "A client certificate proves API Gateway's identity to a backend that asks for one. This API's "
                "backend is the internal load balancer, reached only through its own VPC link over HTTPS; the "
                "load balancer's TLS listener asks no client for a certificate, so API Gateway's would be checked "
                "by nobody. Callers are authenticated at the stage instead (SigV4), and the requests are "
                "encrypted on every hop to the tasks."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[EncryptedEndToEnd(), PrivateIntegration(), IamAuthenticationRequired(), AccessLogged()],
            controls=["SC-8", "IA-3"],
            review_by="2027-03-31",
        )
        role = self.api.node.find_child("CloudWatchRole").node.default_child
        assert role is not None
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            reason=(
                "Execution logging needs API Gateway's account-level CloudWatch role; AWS's service-role policy "
                "is the documented way to grant it and is maintained by AWS."
            ),
            kind=AcknowledgmentKind.GENERATED_CONSTRUCT,
            checks=[AssumableOnlyBy("apigateway.amazonaws.com")],
            controls=["AC-6", "AU-12"],
            review_by="2027-11-30",
        )

    def _integration(self, uri: str, *, proxy: bool = False) -> apigw.Integration:
        return apigw.Integration(
            type=apigw.IntegrationType.HTTP_PROXY,
            integration_http_method="ANY",
            uri=uri,
            options=apigw.IntegrationOptions(
                connection_type=apigw.ConnectionType.VPC_LINK,
                vpc_link=self.vpc_link,
                request_parameters={"integration.request.path.proxy": "method.request.path.proxy"} if proxy else None,
                timeout=cdk.Duration.seconds(29),
            ),
        )

    @property
    def url(self) -> str:
        return self.api.url


# The one route another account (the pipeline's smoke step) may call: readiness, which reads only.
HEALTH_CHECK_ROUTE = ("GET", "/ready")


def _resource_policy(health_check_account: str | None) -> iam.PolicyDocument:
    """Callers of this account as IAM allows them; another account (the pipeline's) only for GET /ready."""
    statements = [
        iam.PolicyStatement(
            principals=[iam.AccountRootPrincipal()],
            actions=["execute-api:Invoke"],
            resources=["execute-api:/*"],
        )
    ]
    if health_check_account:
        statements.append(
            iam.PolicyStatement(
                principals=[iam.AccountPrincipal(health_check_account)],
                actions=["execute-api:Invoke"],
                resources=[f"execute-api:/*/{HEALTH_CHECK_ROUTE[0]}{HEALTH_CHECK_ROUTE[1]}"],
            )
        )
    return iam.PolicyDocument(statements=statements)


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _managed_rule(name: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(vendor_name="AWS", name=name)
        ),
        visibility_config=_visibility(name),
    )
