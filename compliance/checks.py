"""Compensating controls as checks: named claims evaluated against the synthesized templates.

An acknowledgment accepts a finding because something else reduces the risk. That
something is a claim about resources ("the bucket is versioned", "only
ecs-tasks.amazonaws.com can assume the role"), and a claim an auditor reads must be
true of what deploys. So each claim is a `Check`: a small, pure function of the
synthesized resource (and of the resources it references or that reference it),
read from the cloud assembly after synth. The sentence the report prints is built
from the checks, so it cannot drift from what was checked.

This module is the index of the claims that stacks, components and the pipeline name in their
acknowledgments: the engine that finds a claim's subjects and builds its sentence is
`compliance.claims.engine`, the claims are in `compliance.claims`, one module per domain
(storage, keys, IAM, scope, credentials, network, API, compute, transit).
"""

from __future__ import annotations

from compliance.claims.api import IamAuthenticationRequired, NotCached, PrivateIntegration
from compliance.claims.compute import CredentialsOnlyAsSecrets, ImagePinnedByDigest, RunOnlyByPipeline
from compliance.claims.credentials import (
    GivenNoCredential,
    IamDatabaseAuthentication,
    MasterSecretReadOnlyByAdministrators,
)
from compliance.claims.engine import (
    BUCKET,
    CACHE,
    DATABASE,
    FUNCTION,
    KEY,
    LOAD_BALANCER,
    LOG_GROUP,
    MANAGED_POLICY,
    METHOD,
    POLICY,
    ROLE,
    SECRET,
    STAGE,
    STREAM,
    SUBNET,
    TASK_DEFINITION,
    TOPIC,
    VPC,
    Check,
    compensating_sentence,
    evaluate_checks,
)
from compliance.claims.iam import (
    AssumableOnlyBy,
    AttachedToOneRole,
    GrantsConfinedToAccount,
    NotInvocableByOthers,
    PublishConfinedToAccount,
    ServiceGrantsOnly,
    WildcardGrantsOnly,
)
from compliance.claims.keys import KeyRotation, SigningOnly
from compliance.claims.network import FlowLogged, InIsolatedSubnets, ResolvedAtDeploy, ZonesOfRegion
from compliance.claims.scope import GrantedOnlyOn
from compliance.claims.storage import (
    AccessLogged,
    BackedUp,
    EncryptedAtRest,
    EncryptedWithCmk,
    KeptAtLeast,
    NotPublic,
    RetainedOnDelete,
    TlsOnly,
    Versioned,
)
from compliance.claims.transit import EncryptedEndToEnd

__all__ = [
    "BUCKET",
    "CACHE",
    "DATABASE",
    "FUNCTION",
    "KEY",
    "LOAD_BALANCER",
    "LOG_GROUP",
    "MANAGED_POLICY",
    "METHOD",
    "POLICY",
    "ROLE",
    "SECRET",
    "STAGE",
    "STREAM",
    "SUBNET",
    "TASK_DEFINITION",
    "TOPIC",
    "VPC",
    "AccessLogged",
    "AssumableOnlyBy",
    "AttachedToOneRole",
    "BackedUp",
    "Check",
    "CredentialsOnlyAsSecrets",
    "EncryptedAtRest",
    "EncryptedEndToEnd",
    "EncryptedWithCmk",
    "FlowLogged",
    "GivenNoCredential",
    "GrantedOnlyOn",
    "GrantsConfinedToAccount",
    "IamAuthenticationRequired",
    "IamDatabaseAuthentication",
    "ImagePinnedByDigest",
    "InIsolatedSubnets",
    "KeptAtLeast",
    "KeyRotation",
    "MasterSecretReadOnlyByAdministrators",
    "NotCached",
    "NotInvocableByOthers",
    "NotPublic",
    "PrivateIntegration",
    "PublishConfinedToAccount",
    "ResolvedAtDeploy",
    "RetainedOnDelete",
    "RunOnlyByPipeline",
    "ServiceGrantsOnly",
    "SigningOnly",
    "TlsOnly",
    "Versioned",
    "WildcardGrantsOnly",
    "ZonesOfRegion",
    "compensating_sentence",
    "evaluate_checks",
]
