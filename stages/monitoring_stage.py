"""One deployable copy of the monitoring workload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from compliance import acknowledge_generated_inline_policies, record_acknowledgments_in_templates
from components.resource_policies import harden_resource_policies
from config import EnvironmentConfig
from stacks import BaselineStack, DataStack, KeysStack, NetworkStack, ObservabilityStack, ServiceStack


class MonitoringStage(cdk.Stage):
    """The workload of one environment, in stacks split by lifecycle.

    Keys outlive everything they encrypt; the network outlives what runs in it;
    stateful data has termination protection where `protect_data` is set; the
    stateless service and the observability stack can be replaced at will. The
    stage knows which environment it is only through `config`. Once all of it is
    built, one pass hardens every key and resource policy of it (`hardened`: only
    AWS services create grants on its keys, and grants to EventBridge and CloudTrail
    are tied to its account; AC-3, AC-6, CT.KMS.PR.3).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        image_directory: Path,
        health_check_account: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, env=cdk.Environment(account=config.account, region=config.region), **kwargs
        )
        keys = KeysStack(self, "Keys", config=config)
        network = NetworkStack(self, "Network", config=config, telemetry_key=keys.telemetry_key)
        self.data = data = DataStack(
            self,
            "Data",
            config=config,
            network=network,
            data_key=keys.data_key,
            telemetry_key=keys.telemetry_key,
        )
        self.service = ServiceStack(
            self,
            "Service",
            config=config,
            network=network,
            data=data,
            data_key=keys.data_key,
            telemetry_key=keys.telemetry_key,
            image_directory=image_directory,
            health_check_account=health_check_account,
        )
        observability = ObservabilityStack(
            self, "Observability", config=config, telemetry_key=keys.telemetry_key, data=data, service=self.service
        )
        self.api_url_output = self.service.api_url
        stacks: list[cdk.Stack] = [keys, network, data, self.service, observability]
        self.baseline: BaselineStack | None = None
        if config.account_baseline.services:
            self.baseline = BaselineStack(self, "Baseline", config=config)
            stacks.append(self.baseline)
        for stack in stacks:
            # Reviewed with each CDK upgrade, which can change what the grant methods write.
            acknowledge_generated_inline_policies(stack, review_by="2027-06-30")
        # Every key, topic and bucket policy of the stage and every grant on its keys exist now: CDK Pipelines
        # synthesizes the stage as the pipeline adds it, and nothing is added to it in between.
        self.hardened = harden_resource_policies(self)
        record_acknowledgments_in_templates(self)
