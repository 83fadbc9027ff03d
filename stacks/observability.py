"""Where one environment's alarms are sent."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from config import EnvironmentConfig
from stacks.base import WorkloadStack


class ObservabilityStack(WorkloadStack):
    """The alarm topic that on-call engineers subscribe to (IR-6, SI-4(5)).

    The topic is encrypted with the telemetry key and accepts only TLS publishers.
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
        telemetry_key = self.use_key(telemetry_key, "TelemetryKey")
        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{config.stage_id} monitoring alarms",
            master_key=telemetry_key,
            enforce_ssl=True,
        )
        for email in config.alarm_emails:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(email))
