"""Reusable constructs: each one cohesive, hardened capability with typed keyword arguments."""

from components.encrypted_log_group import EncryptedLogGroup
from components.encryption_key import EncryptionKey
from components.logged_bucket import LoggedBucket

__all__ = ["EncryptedLogGroup", "EncryptionKey", "LoggedBucket"]
