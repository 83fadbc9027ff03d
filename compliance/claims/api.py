"""Claims about the API and what authenticates to it and to the data stores behind it.

IAM authentication, private integration, no cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from compliance.assembly import ResourceView
from compliance.claims.engine import CACHE, DATABASE, METHOD, STAGE, Check, as_list, is_true
from compliance.references import TemplateIndex


@dataclass(frozen=True)
class IamAuthenticationRequired(Check):
    """Every method is AWS_IAM, or every enabled user of the cache authenticates with IAM.

    Not a database's: RDS always gives it a master user that signs in with a password, so it admits more than
    IAM callers (`compliance.claims.credentials` says what a database admits).
    """

    subject_types: ClassVar[tuple[str, ...]] = (METHOD, STAGE, CACHE)
    shortdesc: ClassVar[str] = "every method is AWS_IAM, the cache admits only IAM users (no default user)"
    controls: ClassVar[tuple[str, ...]] = ("IA-2", "AC-3")

    @property
    def predicate(self) -> str:
        return "admits only callers that authenticate with IAM (SigV4 or IAM tokens)"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        if resource.type == DATABASE:
            return False, "a database's master user signs in with a password: use IamDatabaseAuthentication"
        if resource.type == CACHE:
            return _cache_users_use_iam(resource, index)
        methods = [resource] if resource.type == METHOD else _methods_of_stage(resource, index)
        if not methods:
            return False, "no methods found"
        open_ = [m.path for m in methods if m.properties.get("AuthorizationType") != "AWS_IAM"]
        return not open_, f"not AWS_IAM: {', '.join(open_)}" if open_ else f"{len(methods)} method(s) use AWS_IAM"


def _cache_users_use_iam(resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
    groups = [index.resolve(resource.stack, g) for g in as_list(resource.properties.get("UserGroupIds"))]
    users = [
        index.resolve(group.stack, u)
        for group in groups
        if group is not None
        for u in as_list(group.properties.get("UserIds"))
    ]
    if not groups or not users or any(u is None for u in users):
        return False, "no user group of users defined in this app (the default user would admit anyone)"
    password = [
        u.path
        for u in users
        if u is not None
        and u.properties.get("AuthenticationMode", {}).get("Type") != "iam"
        and not str(u.properties.get("AccessString", "")).startswith("off")
    ]
    names = ", ".join(str(u.properties.get("UserName")) for u in users if u is not None)
    return not password, f"enabled users without IAM: {', '.join(password)}" if password else f"users: {names}"


def _methods_of_stage(stage: ResourceView, index: TemplateIndex) -> list[ResourceView]:
    api = index.resolve(stage.stack, stage.properties.get("RestApiId"))
    return index.referrers(api, METHOD) if api is not None else []


@dataclass(frozen=True)
class PrivateIntegration(Check):
    subject_types: ClassVar[tuple[str, ...]] = (STAGE,)
    shortdesc: ClassVar[str] = "every integration goes through a VPC link"
    controls: ClassVar[tuple[str, ...]] = ("SC-7",)

    @property
    def predicate(self) -> str:
        return "reaches its backend only through a VPC link"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        methods = _methods_of_stage(resource, index)
        public = [m.path for m in methods if m.properties.get("Integration", {}).get("ConnectionType") != "VPC_LINK"]
        if not methods:
            return False, "no methods found"
        return not public, f"not through a VPC link: {', '.join(public)}" if public else f"{len(methods)} method(s)"


@dataclass(frozen=True)
class NotCached(Check):
    subject_types: ClassVar[tuple[str, ...]] = (STAGE,)
    shortdesc: ClassVar[str] = "no response cache"
    controls: ClassVar[tuple[str, ...]] = ("SC-28",)

    @property
    def predicate(self) -> str:
        return "caches no response"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        cluster = is_true(props.get("CacheClusterEnabled"))
        cached = [
            s.get("ResourcePath", "?") for s in as_list(props.get("MethodSettings")) if is_true(s.get("CachingEnabled"))
        ]
        holds = not cluster and not cached
        return holds, "no cache cluster, no method caching" if holds else f"cache cluster {cluster}, caching {cached}"
