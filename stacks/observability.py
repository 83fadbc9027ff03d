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

    Watches the API (5xx and 4xx rates in percent, p99 latency), the Fargate service
    (CPU, memory, running versus desired tasks, error responses in its logs), the
    database (CPU, free storage, open connections), the cache over all of its nodes
    (engine CPU, freeable memory, evictions, replication lag) and the stream
    (iterator age, throttled writes). Every alarm sends its alarm, OK and
    insufficient-data notices to the stage's alarm topic (encrypted with the
    telemetry key, TLS-only publishers) and is named `<Stage>-Monitoring-...`.
    Thresholds come from `EnvironmentConfig.alarms`, each in the unit its name says;
    missing data is "not breaching" for metrics that exist only under load, so a
    quiet night pages nobody.
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
        self._alarm_topic(self.use_key(telemetry_key, "TelemetryKey"))
        self._facade()
        self._monitor_api_and_service(service)
        self._monitor_database_and_stream(data)
        self._custom_alarms(data, service)

    def _alarm_topic(self, telemetry_key: kms.IKey) -> None:
        config = self.config
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

    def _facade(self) -> None:
        """The library's facade: every alarm it makes is named for the stage and notifies the alarm topic."""
        stage = self.config.stage_id
        self.facade = monitoring.MonitoringFacade(
            self,
            "Monitoring",
            alarm_factory_defaults=monitoring.AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=f"{stage}-Monitoring",
                # Alarm, recovery and "the metric stopped reporting" all reach the on-call topic
                # (AWS Config's cloudwatch-alarm-action-check requires the alarm and insufficient-data actions).
                action=monitoring.SnsAlarmActionStrategy(
                    on_alarm_topic=self.alarm_topic,
                    on_ok_topic=self.alarm_topic,
                    on_insufficient_data_topic=self.alarm_topic,
                ),
                datapoints_to_alarm=3,
                evaluation_periods=5,
            ),
            metric_factory_defaults=monitoring.MetricFactoryDefaults(),
            dashboard_factory=monitoring.DefaultDashboardFactory(
                self,
                "Dashboards",
                dashboard_name_prefix=f"{stage}-Monitoring",
                create_dashboard=True,
                create_summary_dashboard=False,
                create_alarm_dashboard=True,
            ),
        )

    def _monitor_api_and_service(self, service: ServiceStack) -> None:
        limits = self.config.alarms
        self.facade.monitor_api_gateway(
            api=service.api.api,
            api_stage=self.config.name,
            alarm_friendly_name="Api",
            add_latency_p99_alarm={
                "Warning": monitoring.LatencyThreshold(
                    max_latency=cdk.Duration.millis(limits.api_latency_p99_ms), treat_missing_data_override=IDLE
                )
            },
        )
        self.facade.monitor_simple_fargate_service(
            fargate_service=service.fargate.service,
            alarm_friendly_name="Service",
            # No tasks means no datapoints: the RunningTasks alarm pages for that, once.
            add_cpu_usage_alarm={
                "Warning": monitoring.UsageThreshold(
                    max_usage_percent=limits.service_cpu_percent, treat_missing_data_override=IDLE
                )
            },
            add_memory_usage_alarm={
                "Warning": monitoring.UsageThreshold(
                    max_usage_percent=limits.service_memory_percent, treat_missing_data_override=IDLE
                )
            },
        )

    def _monitor_database_and_stream(self, data: DataStack) -> None:
        limits = self.config.alarms
        self.facade.monitor_rds_instance(
            instance=data.database,
            alarm_friendly_name="Database",
            add_cpu_usage_alarm={
                "Warning": monitoring.UsageThreshold(
                    max_usage_percent=limits.database_cpu_percent, treat_missing_data_override=ALWAYS_REPORTED
                )
            },
            add_free_storage_space_alarm={
                "Critical": monitoring.MinUsageCountThreshold(
                    min_count=limits.database_free_storage_gib * 1024**3, treat_missing_data_override=ALWAYS_REPORTED
                )
            },
        )
        self.facade.monitor_kinesis_data_stream(
            stream_name=data.stream.stream_name,
            alarm_friendly_name="Stream",
            # Both metrics exist only while producers write and consumers read: a quiet stream is healthy.
            add_iterator_max_age_alarm={
                "Warning": monitoring.MaxIteratorAgeThreshold(
                    max_age_in_millis=limits.stream_iterator_age_seconds * 1000, treat_missing_data_override=IDLE
                )
            },
            add_put_records_throttled_alarm={
                "Warning": monitoring.RecordsThrottledThreshold(
                    max_records_throttled_threshold=limits.stream_throttled_records_per_5_minutes,
                    treat_missing_data_override=IDLE,
                )
            },
        )

    def _custom_alarms(self, data: DataStack, service: ServiceStack) -> None:
        """Alarms whose metric the library does not shape the way we need.

        The API's error rates in percent (API Gateway reports a fraction), database connections as the
        maximum open at once (not a sum of samples), the cache over every node so that a failover
        changes nothing, running tasks, and 5xx answers counted from the service's own logs.
        """
        stage = self.config.stage_id
        metrics = [
            *self._api_alarms(service),
            *self._service_alarms(service),
            _alarm(
                "DatabaseConnections",
                _metric(
                    "AWS/RDS",
                    "DatabaseConnections",
                    {"DBInstanceIdentifier": data.database.instance_identifier},
                    "Maximum",
                ),
                "Warning",
                self.config.alarms.database_connections_count,
                ABOVE,
                ALWAYS_REPORTED,
            ),
            *self._cache_alarms(data),
        ]
        self.facade.monitor_custom(
            alarm_friendly_name="Workload",
            human_readable_name=f"{stage} service health",
            metric_groups=[monitoring.CustomMetricGroup(title="Service health", metrics=metrics)],
        )

    def _api_alarms(self, service: ServiceStack) -> list[monitoring.CustomMetricWithAlarm]:
        """5xx and 4xx answers in percent of requests: API Gateway's Average of 5XXError is a fraction (0 to 1)."""
        limits, five_minutes = self.config.alarms, cdk.Duration.minutes(5)
        api_dimensions = {"ApiName": service.api.api.rest_api_name, "Stage": self.config.name}
        return [
            _alarm(
                "Api5xxRate",
                cloudwatch.MathExpression(
                    expression="100 * faults",
                    using_metrics={"faults": _metric("AWS/ApiGateway", "5XXError", api_dimensions, "Average")},
                    label="5xx answers (% of requests)",
                    period=five_minutes,
                ),
                "Critical",
                limits.api_5xx_percent,
                ABOVE,
                IDLE,
            ),
            _alarm(
                "Api4xxRate",
                cloudwatch.MathExpression(
                    expression="100 * clienterrors",
                    using_metrics={"clienterrors": _metric("AWS/ApiGateway", "4XXError", api_dimensions, "Average")},
                    label="4xx answers (% of requests)",
                    period=five_minutes,
                ),
                "Warning",
                limits.api_4xx_percent,
                ABOVE,
                IDLE,
            ),
        ]

    def _service_alarms(self, service: ServiceStack) -> list[monitoring.CustomMetricWithAlarm]:
        """5xx answers counted from the service's own log lines, and fewer running tasks than desired."""
        config = self.config
        # The service logs one JSON line per request; 5xx answers are the errors worth paging on.
        errors = logs.MetricFilter(
            self,
            "ServiceErrors",
            log_group=service.fargate.task_log_group,
            metric_namespace=f"{ERROR_METRIC_NAMESPACE}/{config.stage_id}",
            metric_name="ServiceErrors",
            filter_pattern=logs.FilterPattern.number_value("$.status", ">=", 500),
            metric_value="1",
            default_value=0,
        )
        fargate = service.fargate
        return [
            _alarm(
                "ServiceErrors",
                errors.metric(statistic="Sum", period=cdk.Duration.minutes(5)),
                "Warning",
                config.alarms.service_errors_per_5_minutes,
                ABOVE,
                IDLE,  # the filter emits only while the service writes log lines
            ),
            _alarm(
                "RunningTasks",
                _metric(
                    "ECS/ContainerInsights",
                    "RunningTaskCount",
                    {"ClusterName": fargate.cluster.cluster_name, "ServiceName": fargate.service.service_name},
                    "Minimum",
                    period=cdk.Duration.minutes(1),
                ),
                "Critical",
                config.service.desired_count,
                BELOW,
                cloudwatch.TreatMissingData.BREACHING,  # no datapoint means no task reports: that is the outage
            ),
        ]

    def _cache_alarms(self, data: DataStack) -> list[monitoring.CustomMetricWithAlarm]:
        """Cache alarms over every node of the replication group, so none depends on which node is primary.

        ElastiCache names the nodes of a replication group `<group>-001`, `-002`, ...; after a failover a
        former replica is primary. CPU and replication lag take the worst node, memory the node with the
        least left, and evictions the sum over all nodes (only the primary evicts, whichever it is).
        """
        config, limits = self.config, self.config.alarms
        nodes = [f"{data.cache.ref}-{index:03d}" for index in range(1, config.cache.replicas + 2)]
        five_minutes = cdk.Duration.minutes(5)
        alarms = [
            _alarm(
                "CacheEngineCpu",
                _over_nodes(
                    nodes, "MAX", "EngineCPUUtilization", "Maximum", five_minutes, "Engine CPU, busiest node (%)"
                ),
                "Warning",
                limits.cache_cpu_percent,
                ABOVE,
                ALWAYS_REPORTED,
            ),
            _alarm(
                "CacheFreeableMemory",
                _over_nodes(
                    nodes, "MIN", "FreeableMemory", "Minimum", five_minutes, "Freeable memory, fullest node (bytes)"
                ),
                "Warning",
                limits.cache_min_freeable_memory_mib * 1024**2,
                BELOW,
                ALWAYS_REPORTED,
            ),
            _alarm(
                "CacheEvictions",
                _over_nodes(nodes, "SUM", "Evictions", "Sum", five_minutes, "Evicted keys, all nodes (per 5 minutes)"),
                "Warning",
                limits.cache_evictions_per_5_minutes,
                ABOVE,
                ALWAYS_REPORTED,
            ),
        ]
        if config.cache.replicas > 0:
            alarms.append(
                _alarm(
                    "CacheReplicationLag",
                    # Every node, not one fixed replica: the primary reports none, and roles change on failover.
                    _over_nodes(
                        nodes, "MAX", "ReplicationLag", "Maximum", cdk.Duration.minutes(1), "Replication lag (s)"
                    ),
                    "Warning",
                    limits.cache_replication_lag_seconds,
                    ABOVE,
                    ALWAYS_REPORTED,
                )
            )
        return alarms


ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
BELOW = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
# A metric that exists only under load (requests, records, log lines): no datapoint is a quiet night, not a fault.
IDLE = cloudwatch.TreatMissingData.NOT_BREACHING
# A metric the service reports every period, busy or not: no datapoint means the resource or its
# monitoring stopped, and the alarm's insufficient-data action says so.
ALWAYS_REPORTED = cloudwatch.TreatMissingData.MISSING


def _metric(
    namespace: str,
    metric_name: str,
    dimensions: dict[str, str],
    statistic: str,
    *,
    period: cdk.Duration | None = None,
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=period or cdk.Duration.minutes(5),
    )


def _alarm(
    name: str,
    metric: cloudwatch.Metric | cloudwatch.MathExpression,
    severity: str,
    threshold: float,
    comparison: cloudwatch.ComparisonOperator,
    missing_data: cloudwatch.TreatMissingData,
) -> monitoring.CustomMetricWithAlarm:
    return monitoring.CustomMetricWithAlarm(
        alarm_friendly_name=name,
        metric=metric,
        add_alarm={
            severity: monitoring.CustomThreshold(
                threshold=threshold, comparison_operator=comparison, treat_missing_data_override=missing_data
            )
        },
    )


def _over_nodes(
    nodes: list[str], function: str, metric_name: str, statistic: str, period: cdk.Duration, label: str
) -> cloudwatch.MathExpression:
    """`function` (MAX, MIN, SUM) of one ElastiCache metric over the given nodes."""
    # Ids unique per metric: the dashboard draws these expressions in one graph.
    prefix = "".join(c for c in metric_name.lower() if c.isalpha())
    using = {
        f"{prefix}{index}": _metric("AWS/ElastiCache", metric_name, {"CacheClusterId": node}, statistic, period=period)
        for index, node in enumerate(nodes, start=1)
    }
    return cloudwatch.MathExpression(
        expression=f"{function}([{', '.join(using)}])", using_metrics=using, label=label, period=period
    )
