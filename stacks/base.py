"""What every stack of the workload shares."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from config import EnvironmentConfig

# A stack id's UUID (8-4-4-4-12 hexadecimal digits), and its last group.
_STACK_UUID_LENGTH = 36
_STACK_UUID_TAIL_LENGTH = 12


class WorkloadStack(cdk.Stack):
    """A stack of one environment, whose availability zones come from configuration.

    An environment-specific stack otherwise asks the CLI to look its zones up in the
    account, which needs credentials and network at synth time; taking them from
    the validated config keeps synth hermetic and the subnet layout reproducible.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config

    @property
    def availability_zones(self) -> list[str]:
        return list(self.config.availability_zones)

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        """What happens to stateful resources when the stack is deleted or they are replaced.

        Protected environments keep them, except when their first create rolls back: a
        retained half-created resource would make the retry fail with "already exists".
        """
        return cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if self.config.protect_data else cdk.RemovalPolicy.DESTROY

    def unique_name(self, prefix: str, *, max_length: int | None = None) -> str:
        """A physical name for services that demand one: the stage's prefix plus this stack's id.

        The stack id changes whenever the stack is created anew, so a name never collides with
        a resource an earlier deployment retained. Where the prefix and the whole id would pass
        `max_length`, the name carries the id's last 12 digits instead (`short_unique_name`); a
        name that fits keeps the whole id, so it does not change (and replace its resource).
        """
        if max_length is not None and len(prefix) + 1 + _STACK_UUID_LENGTH > max_length:
            if len(prefix) + 1 + _STACK_UUID_TAIL_LENGTH > max_length:
                raise ValueError(f"{prefix!r} leaves no room for a stack id in a name of {max_length} characters")
            return self.short_unique_name(prefix)
        stack_uuid = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
        return f"{prefix}-{stack_uuid}"

    def short_unique_name(self, prefix: str) -> str:
        """Like `unique_name`, with only the last 12 hexadecimal digits of the stack id, for short name limits."""
        stack_uuid = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
        return f"{prefix}-{cdk.Fn.select(4, cdk.Fn.split('-', stack_uuid))}"

    @property
    def snapshot_policy(self) -> cdk.RemovalPolicy:
        """For resources that can leave a final snapshot behind (RDS, ElastiCache)."""
        return cdk.RemovalPolicy.SNAPSHOT if self.config.protect_data else cdk.RemovalPolicy.DESTROY

    def use_key(self, key: kms.IKey, construct_id: str) -> kms.IKey:
        """Reference a key of the keys stack by ARN.

        Grants on a referenced key go into the grantee's IAM policy (the key policy
        already trusts the account), never into the key policy of the keys stack:
        otherwise the keys stack would depend on the roles of the stacks that use
        its keys, which depend on the keys stack, and CloudFormation refuses the cycle.
        """
        return kms.Key.from_key_arn(self, construct_id, key.key_arn)
