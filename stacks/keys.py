"""Customer-managed keys, in their own stack so they outlive everything they encrypt."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from components import EncryptionKey
from config import EnvironmentConfig
from stacks.base import WorkloadStack


class KeysStack(WorkloadStack):
    """The environment's CMKs (SC-12, SC-13, SC-28(1)).

    `data_key` encrypts data at rest: the database, its secrets, the cache, the
    stream. `telemetry_key` encrypts what the platform records about itself:
    every CloudWatch Logs group and the alarm topic. Separate keys keep audit
    records readable by on-call staff without granting them the data.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        self.data_key = EncryptionKey(
            self,
            "DataKey",
            description=f"{config.stage_id} monitoring data at rest (RDS, ElastiCache, Kinesis, Secrets Manager)",
            removal_policy=self.removal_policy,
        ).key
        self.telemetry_key = EncryptionKey(
            self,
            "TelemetryKey",
            description=f"{config.stage_id} monitoring logs and alarm notifications",
            removal_policy=self.removal_policy,
            allow_cloudwatch_logs=True,
            allow_cloudwatch_alarms=True,
        ).key
