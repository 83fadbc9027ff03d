"""A stage is one deployable copy of the whole workload."""

from stages.monitoring_stage import MonitoringStage

__all__ = ["MonitoringStage"]
