"""Typed, validated configuration: the one place the app's settings come from."""

from config.loader import DEFAULT_CONFIG_PATH, PROJECT_ROOT, ConfigError, load_config, parse_config
from config.schema import (
    AlarmThresholds,
    AppConfig,
    CacheConfig,
    DatabaseConfig,
    EnvironmentConfig,
    PipelineConfig,
    ServiceConfig,
    StreamConfig,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "PROJECT_ROOT",
    "AlarmThresholds",
    "AppConfig",
    "CacheConfig",
    "ConfigError",
    "DatabaseConfig",
    "EnvironmentConfig",
    "PipelineConfig",
    "ServiceConfig",
    "StreamConfig",
    "load_config",
    "parse_config",
]
