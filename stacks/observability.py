"""One environment's dashboard and alarms, and where the alarms are sent."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import cdk_monitoring_constructs as monitoring
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from config import EnvironmentConfig
from stacks.base import WorkloadStack
from stacks.data import DataStack
from stacks.service import ServiceStack

ERROR_METRIC_NAMESPACE = "FedRampMonitoring"


class ObservabilityStack(WorkloadStack):
    """Dashboard and alarms built with cdk-monitoring-constructs (AU-6, CA-7, IR-4, IR-6, SI-4, SI-4(5)).

    Watches the API (5xx and 4xx rates, p99 latency), the Fargate service (CPU,
    memory, running versus desired tasks, error responses in its logs), the
    database (CPU, free storage, connections), the cache (engine CPU, freeable
    memory, evictions, replication lag) and the stream (iterator age, throttled
    writes). Every alarm notifies the stage's alarm topic (encrypted with the
    telemetry key, TLS-only publishers) and is named `<Stage>-Monitoring-...`.
    Thresholds come from `EnvironmentConfig.alarms`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        telemetry_key: kms.IKey,
        data: DataStack,
        service: ServiceStack,
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
        # enforce_ssl writes a topic policy, which replaces SNS's default one: CloudWatch alarms of this
        # account must then be allowed to publish explicitly, or every alarm action fails.
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        for email in config.alarm_emails:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(email))

        limits = config.alarms
        self.facade = monitoring.MonitoringFacade(
            self,
            "Monitoring",
            alarm_factory_defaults=monitoring.AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=f"{config.stage_id}-Monitoring",
                action=monitoring.SnsAlarmActionStrategy(on_alarm_topic=self.alarm_topic, on_ok_topic=self.alarm_topic),
                datapoints_to_alarm=3,
                evaluation_periods=5,
            ),
            metric_factory_defaults=monitoring.MetricFactoryDefaults(),
            dashboard_factory=monitoring.DefaultDashboardFactory(
                self,
                "Dashboards",
                dashboard_name_prefix=f"{config.stage_id}-Monitoring",
                create_dashboard=True,
                create_summary_dashboard=False,
                create_alarm_dashboard=True,
            ),
        )
        self.facade.monitor_api_gateway(
            api=service.api.api,
            api_stage=config.name,
            alarm_friendly_name="Api",
            add5_xx_fault_rate_alarm={"Critical": monitoring.ErrorRateThreshold(max_error_rate=limits.api_5xx_percent)},
            add4_xx_error_rate_alarm={"Warning": monitoring.ErrorRateThreshold(max_error_rate=limits.api_4xx_percent)},
            add_latency_p99_alarm={
                "Warning": monitoring.LatencyThreshold(max_latency=cdk.Duration.millis(limits.api_latency_p99_ms))
            },
        )
        self.facade.monitor_simple_fargate_service(
            fargate_service=service.service,
            alarm_friendly_name="Service",
            add_cpu_usage_alarm={"Warning": monitoring.UsageThreshold(max_usage_percent=limits.service_cpu_percent)},
            add_memory_usage_alarm={
                "Warning": monitoring.UsageThreshold(max_usage_percent=limits.service_memory_percent)
            },
        )
        self.facade.monitor_rds_instance(
            instance=data.database,
            alarm_friendly_name="Database",
            add_cpu_usage_alarm={"Warning": monitoring.UsageThreshold(max_usage_percent=limits.database_cpu_percent)},
            add_free_storage_space_alarm={
                "Critical": monitoring.MinUsageCountThreshold(min_count=limits.database_free_storage_gib * 1024**3)
            },
            add_max_connection_count_alarm={
                "Warning": monitoring.HighConnectionCountThreshold(max_connection_count=limits.database_connections)
            },
        )
        # Node-level metrics of the replication group's primary (ElastiCache names nodes <group>-00N).
        primary_node = f"{data.cache.ref}-001"
        self.facade.monitor_elasti_cache_cluster(
            cluster_id=primary_node,
            cluster_type=monitoring.ElastiCacheClusterType.REDIS,
            alarm_friendly_name="Cache",
            add_redis_engine_cpu_usage_alarm={
                "Warning": monitoring.UsageThreshold(max_usage_percent=limits.cache_cpu_percent)
            },
            add_min_freeable_memory_alarm={
                "Warning": monitoring.MinFreeableMemoryThreshold(
                    min_freeable_memory_in_bytes=limits.cache_min_freeable_memory_mib * 1024**2
                )
            },
            add_max_evicted_items_count_alarm={
                "Warning": monitoring.MaxItemsCountThreshold(max_items_count=limits.cache_evictions)
            },
        )
        self.facade.monitor_kinesis_data_stream(
            stream_name=data.stream.stream_name,
            alarm_friendly_name="Stream",
            add_iterator_max_age_alarm={
                "Warning": monitoring.MaxIteratorAgeThreshold(
                    max_age_in_millis=limits.stream_iterator_age_seconds * 1000
                )
            },
            add_put_records_throttled_alarm={
                "Warning": monitoring.RecordsThrottledThreshold(
                    max_records_throttled_threshold=limits.stream_throttled_records
                )
            },
        )
        self._custom_alarms(config, data, service)

    def _custom_alarms(self, config: EnvironmentConfig, data: DataStack, service: ServiceStack) -> None:
        """What the library has no ready-made alarm for: running tasks, replication lag, logged errors."""
        limits = config.alarms
        stage = config.stage_id
        # The service logs one JSON line per request; 5xx answers are the errors worth paging on.
        errors = logs.MetricFilter(
            self,
            "ServiceErrors",
            log_group=service.task_log_group,
            metric_namespace=f"{ERROR_METRIC_NAMESPACE}/{stage}",
            metric_name="ServiceErrors",
            filter_pattern=logs.FilterPattern.number_value("$.status", ">=", 500),
            metric_value="1",
            default_value=0,
        )
        metrics: list[monitoring.CustomMetricWithAlarm] = [
            monitoring.CustomMetricWithAlarm(
                alarm_friendly_name="ServiceErrors",
                metric=errors.metric(statistic="Sum", period=cdk.Duration.minutes(5)),
                add_alarm={
                    "Warning": monitoring.CustomThreshold(
                        threshold=limits.service_errors_per_5_minutes,
                        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    )
                },
            ),
            monitoring.CustomMetricWithAlarm(
                alarm_friendly_name="RunningTasks",
                metric=cloudwatch.Metric(
                    namespace="ECS/ContainerInsights",
                    metric_name="RunningTaskCount",
                    dimensions_map={
                        "ClusterName": service.cluster.cluster_name,
                        "ServiceName": service.service.service_name,
                    },
                    statistic="Minimum",
                    period=cdk.Duration.minutes(1),
                ),
                add_alarm={
                    "Critical": monitoring.CustomThreshold(
                        threshold=config.service.desired_count,
                        comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                        treat_missing_data_override=cloudwatch.TreatMissingData.BREACHING,
                    )
                },
            ),
        ]
        if config.cache.replicas > 0:
            metrics.append(
                monitoring.CustomMetricWithAlarm(
                    alarm_friendly_name="CacheReplicationLag",
                    metric=cloudwatch.Metric(
                        namespace="AWS/ElastiCache",
                        metric_name="ReplicationLag",
                        dimensions_map={"CacheClusterId": f"{data.cache.ref}-002"},
                        statistic="Maximum",
                        period=cdk.Duration.minutes(1),
                    ),
                    add_alarm={
                        "Warning": monitoring.CustomThreshold(
                            threshold=limits.cache_replication_lag_seconds,
                            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                        )
                    },
                )
            )
        self.facade.monitor_custom(
            alarm_friendly_name="Workload",
            human_readable_name=f"{stage} service health",
            metric_groups=[monitoring.CustomMetricGroup(title="Service health", metrics=metrics)],
        )
