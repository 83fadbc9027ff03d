"""The benchmark's configurations with more stages: a configuration's environments, copied until there are N.

The copies must pass the loader the file itself passes (`config.parse_config`, its cross-field rules
included) and give the pipeline the same shape, so what the schema, its rules and the pipeline need
unique is made unique in each copy:

  name        dev2, staging2, prod-dr2, dev3, ...: the stage's construct id comes from it, so its stage
              id differs from every stage id and wave id already in the file
  wave        production2, ... for the copies of a wave's members: the pipeline's wave id comes from
              it, and the copies stand next to each other as the originals do
  account     a fresh account for each account of the environments copied: the copies share accounts
              the way the originals do, so no account-wide singleton (`account_baseline`) is on twice
  vpc_cidr    a free private network of the same size, overlapping no other environment's
  load_balancer_tls.certificate_arn
              the original's certificate id in the copy's account: a load balancer uses a certificate
              of its own account

Everything else is the original's (a staging copy stays protected like staging), so every extra stage
is as large as a real one.
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass
from typing import Any

from config import AppConfig, parse_config
from config.schema import ACM_CERTIFICATE_ARN, ENVIRONMENT_NAME_MAX_LENGTH, stage_id_of

PRIVATE_RANGES = tuple(ipaddress.IPv4Network(cidr) for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# Accounts for the copies count down from here, skipping any the file uses.
_LAST_ACCOUNT = 999_999_999_999


def scaled_config(base: AppConfig, count: int, *, source: str = "<config>") -> AppConfig:
    """`base` with `count` environments, validated by the loader: its own, then copies of them (see the module).

    Raises `config.ConfigError` when the result does not validate, ValueError when no copy can be made.
    """
    return parse_config(scaled_document(base, count), source=f"{source} scaled to {count} stages")


def scaled_document(base: AppConfig, count: int) -> dict[str, Any]:
    """The document of `scaled_config`, as a configuration file holds it (environments by name, in order)."""
    if count < 1:
        raise ValueError("need at least one environment")
    document = base.model_dump(mode="json")
    originals: list[dict[str, Any]] = document["environments"]
    taken = _Taken.of(document)
    environments = originals[:count]
    for number in itertools.count(2):
        if len(environments) >= count:
            break
        environments += _copies(originals[: count - len(environments)], number, taken)
    document["environments"] = {env["name"]: {k: v for k, v in env.items() if k != "name"} for env in environments}
    return document


def pipeline_ids(config: AppConfig) -> list[str]:
    """The ids the pipeline gives its waves and stages, as `PipelineStack._add_wave` names them: all must differ."""
    ids: list[str] = []
    for wave in config.waves:
        first = wave[0]
        if len(wave) > 1:
            ids.append(stage_id_of(first.wave or first.name))
        ids += [env.stage_id for env in wave]
    return ids


def _copies(originals: list[dict[str, Any]], number: int, taken: _Taken) -> list[dict[str, Any]]:
    """Copy `number` of `originals`: fresh names, waves, accounts and networks, everything else theirs."""
    accounts = {account: taken.account() for account in dict.fromkeys(env["account"] for env in originals)}
    waves = {wave: taken.wave(wave, number) for wave in dict.fromkeys(env["wave"] for env in originals) if wave}
    return [
        {
            **env,
            "name": taken.name(env["name"], number),
            "wave": waves.get(env["wave"]),
            "account": accounts[env["account"]],
            "vpc_cidr": taken.network(env["vpc_cidr"]),
            "load_balancer_tls": _certificate_of(env["load_balancer_tls"], accounts[env["account"]]),
        }
        for env in originals
    ]


def _certificate_of(tls: dict[str, Any], account: str) -> dict[str, Any]:
    """`tls` with its certificate ARN moved to `account` (the same partition, region and certificate id)."""
    match = ACM_CERTIFICATE_ARN.fullmatch(tls["certificate_arn"])
    assert match is not None  # the configuration this copies passed the loader
    start, end = match.span(3)
    return {**tls, "certificate_arn": tls["certificate_arn"][:start] + account + tls["certificate_arn"][end:]}


def _numbered(name: str, number: int, limit: int | None = None) -> str:
    """`name` numbered ('dev' 2 -> 'dev2', 'prod-2' 3 -> 'prod-2-3'), cut to at most `limit` characters."""
    for end in range(len(name), 0, -1):
        stem = name[:end].rstrip("-")
        # A hyphen keeps the number apart from the name's own digits.
        candidate = f"{stem}{'-' if stem[-1].isdigit() else ''}{number}"
        if limit is None or len(candidate) <= limit:
            return candidate
    raise ValueError(f"no name of at most {limit} characters numbers {name!r} with {number}")


@dataclass
class _Taken:
    """What the configuration and the copies made so far already use."""

    ids: set[str]  # stage ids and wave ids
    accounts: set[str]
    networks: list[ipaddress.IPv4Network]

    @classmethod
    def of(cls, document: dict[str, Any]) -> _Taken:
        environments = document["environments"]
        return cls(
            ids={stage_id_of(env[key]) for env in environments for key in ("name", "wave") if env[key]},
            accounts={document["pipeline"]["account"], *(env["account"] for env in environments)},
            networks=[ipaddress.IPv4Network(env["vpc_cidr"]) for env in environments],
        )

    def name(self, name: str, number: int) -> str:
        return self._fresh_id(name, number, ENVIRONMENT_NAME_MAX_LENGTH)

    def wave(self, wave: str, number: int) -> str:
        return self._fresh_id(wave, number, None)

    def _fresh_id(self, name: str, number: int, limit: int | None) -> str:
        for candidate in (_numbered(name, n, limit) for n in itertools.count(number)):
            if stage_id_of(candidate) not in self.ids:
                self.ids.add(stage_id_of(candidate))
                return candidate
        raise AssertionError("unreachable: itertools.count does not end")

    def account(self) -> str:
        account = next(f"{n:012d}" for n in itertools.count(_LAST_ACCOUNT, -1) if f"{n:012d}" not in self.accounts)
        self.accounts.add(account)
        return account

    def network(self, cidr: str) -> str:
        template = ipaddress.IPv4Network(cidr)
        # The original's own private range first, so a copy of a 10.x network stays in 10.0.0.0/8.
        ranges = sorted(PRIVATE_RANGES, key=lambda private: not template.subnet_of(private))
        for private in (r for r in ranges if r.prefixlen <= template.prefixlen):
            for candidate in private.subnets(new_prefix=template.prefixlen):
                if not any(candidate.overlaps(used) for used in self.networks):
                    self.networks.append(candidate)
                    return str(candidate)
        raise ValueError(f"no private /{template.prefixlen} network is left for a copy of {cidr}")
