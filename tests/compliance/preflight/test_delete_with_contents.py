"""DeleteWithContents on plain templates: a vault or a locked bucket does not stop its stack's deletion."""

from __future__ import annotations

from compliance.preflight.delete_with_contents import delete_with_contents
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

_VAULT = {"BackupVaultName": "dev-1a2b3c4d5e6f"}
_LOCKED = {"ObjectLockEnabled": True}


def test_a_vault_deleted_with_its_stack_fails() -> None:
    verdict = check(delete_with_contents, {"Vault": resource("AWS::Backup::BackupVault", _VAULT)}, "Vault")
    assert_fails(verdict, "backup-vault", "no recovery points", "RETAIN_ON_UPDATE_OR_DELETE")


def test_a_locked_bucket_deleted_with_its_stack_fails() -> None:
    bucket = resource("AWS::S3::Bucket", _LOCKED, DeletionPolicy="Delete")
    assert_fails(check(delete_with_contents, {"Bucket": bucket}, "Bucket"), "object-lock-bucket", "Object Lock")


def test_retained_vaults_and_locked_buckets_pass() -> None:
    vault = resource("AWS::Backup::BackupVault", _VAULT, DeletionPolicy="RetainExceptOnCreate")
    assert_passes(check(delete_with_contents, {"Vault": vault}, "Vault"))
    bucket = resource("AWS::S3::Bucket", _LOCKED, DeletionPolicy="Retain")
    assert_passes(check(delete_with_contents, {"Bucket": bucket}, "Bucket"))


def test_a_bucket_without_object_lock_is_not_applicable() -> None:
    bucket = resource("AWS::S3::Bucket", {}, DeletionPolicy="Delete")
    assert_not_applicable(check(delete_with_contents, {"Bucket": bucket}, "Bucket"))
