"""A property rewritten when the template is written, after every grant and default has been applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import jsii
from constructs import IConstruct


@jsii.implements(cdk.IStableAnyProducer)
class _Rewritten:
    def __init__(self, scope: IConstruct, value: Any, rewrite: Callable[[Any], Any]) -> None:
        self._scope, self._value, self._rewrite = scope, value, rewrite

    def produce(self) -> Any:
        return self._rewrite(cdk.Stack.of(self._scope).resolve(self._value))


def rewritten(scope: IConstruct, value: Any, rewrite: Callable[[Any], Any]) -> Any:
    """`value` (a property of `scope`) as it resolves, passed through `rewrite` at synthesis.

    For what a library generates and offers no option for: the CDK fills documents such as a
    role's policy or a key's policy by grants made anywhere in the app, so they are final only
    when the template is written. Assign the result to the L1 property itself (not an override),
    because rule packs read L1 properties.
    """
    return cdk.Lazy.any(_Rewritten(scope, value, rewrite))
