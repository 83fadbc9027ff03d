"""DeleteWithContents: a resource that CloudFormation deletes with its stack can be deleted with what it holds.

Deleting a stack deletes each resource whose DeletionPolicy is Delete, and fails on one whose contents
outlive it:

- an AWS Backup vault: "A vault can be deleted only if it is empty" (AWS Backup API reference,
  DeleteBackupVault, https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DeleteBackupVault.html),
  and a vault that a plan writes to holds recovery points until their lifecycle ends (AWS Backup
  developer guide, Delete a backup vault);
- an S3 bucket with Object Lock: a bucket must be empty to be deleted, and a locked object version
  cannot be deleted before its retention ends (S3 User Guide, Object Lock considerations,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html).

The stack's deletion then stops with DELETE_FAILED. Retain them (RETAIN or RETAIN_ON_UPDATE_OR_DELETE),
so the stack is deleted and they stay until they are empty.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict

VAULT = "AWS::Backup::BackupVault"
BUCKET = "AWS::S3::Bucket"
_WHY = {
    VAULT: "AWS Backup deletes a vault only when it holds no recovery points",
    BUCKET: "S3 deletes a bucket only when it is empty, and Object Lock keeps locked versions until they expire",
}


def delete_with_contents(resource: ResourceView, ctx: Context) -> Verdict:
    """A backup vault, or a bucket with Object Lock, is not deleted with its stack."""
    locked = resource.properties.get("ObjectLockEnabled") in (True, "true")
    if resource.type != VAULT and not (resource.type == BUCKET and locked):
        return Verdict.not_applicable()
    if resource.deletion_policy != "Delete":
        return Verdict.ok()
    return Verdict.fail(
        "backup-vault" if resource.type == VAULT else "object-lock-bucket",
        f"the resource's DeletionPolicy is Delete, but {_WHY[resource.type]}, so deleting the stack would fail; "
        "retain it (RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE) and let its contents expire",
    )


RULE = PreflightRule(
    "DeleteWithContents",
    frozenset({VAULT, BUCKET}),
    delete_with_contents,
    "A backup vault, or an S3 bucket with Object Lock, with DeletionPolicy Delete: its contents outlive it, and "
    "the stack's deletion fails (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DeleteBackupVault.html, "
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html).",
    ("CP-9", "CM-3"),
    shortdesc=(
        "a backup vault, or a bucket with S3 Object Lock, that its stack deletes (DeletionPolicy Delete): AWS "
        "Backup deletes only an empty vault and S3 only an empty bucket, so the stack's deletion fails"
    ),
    source_url="https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DeleteBackupVault.html",
)
