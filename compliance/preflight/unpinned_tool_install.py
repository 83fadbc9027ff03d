"""UnpinnedToolInstall: a buildspec installs each tool at an exact version.

`npm install -g aws-cdk` installs whatever was published last: a release that changes a
default or breaks a command fails the pipeline (or changes what it deploys) with no change
in this repository. A tool is pinned when the command names an exact version:
`npm install -g pkg@1.2.3` (a tag such as `@latest` or a range such as `@2` is not a pin),
`pip install pkg==1.2.3` (or packages from a requirements file `-r`, or under a constraints
file `-c`), `gem install pkg -v 1.2.3`; and `npx` runs a package at a tag only if told to
(`npx pkg@latest`), otherwise the project's lock-pinned copy.

The pack reads inline buildspecs of `AWS::CodeBuild::Project` (JSON or YAML text, possibly
inside `Fn::Join`). CDK Pipelines writes the buildspecs of its asset-publishing projects as
files of the cloud assembly (`buildspec-*.yaml`), which no resource holds:
`check_assembly_buildspecs` reads those.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compliance.assembly import CloudAssembly, ResourceView
from compliance.preflight.base import PACK, AssemblyRule, Context, PreflightRule, Verdict
from compliance.references import render

RULE_ID = "UnpinnedToolInstall"
_EXACT = re.compile(r"v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?")
_SEPARATORS = re.compile(r"&&|\|\||;|\|")
_COMMAND_PREFIXES = frozenset({"sudo", "env", "time", "exec", "command"})
_PIP_VALUE_OPTIONS = frozenset(
    {
        "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
        "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--platform",
        "--python-version", "--implementation", "--abi", "--only-binary", "--no-binary", "--progress-bar",
        "--trusted-host", "--cache-dir", "--log", "--src", "--upgrade-strategy", "-C", "--config-settings",
        "--report", "--retries", "--timeout", "--proxy", "--cert", "--client-cert", "--exists-action",
    }
)  # fmt: skip
_GEM_VALUE_OPTIONS = frozenset(
    {"-i", "--install-dir", "-n", "--bindir", "-s", "--source", "--platform", "-P", "--trust-policy", "--document"}
)
_ADVICE = {
    "npm": "pin it: npm install -g {name}@<exact version>",
    "npx": "name an exact version (npx {name}@<version>) or run the project's lock-pinned copy",
    "pip": "pin it: pip install {name}==<version>, or install from a requirements file (-r) under constraints (-c)",
    "gem": "pin it: gem install {name} -v <version>",
}

# What CDK Pipelines offers to pin the tools its generated buildspecs install.
_CDK_PIPELINES_HINTS = {"cdk-assets": " (CDK Pipelines writes this file: set CodePipeline(cdk_assets_cli_version=...))"}


@dataclass(frozen=True)
class UnpinnedInstall:
    """One package a command installs at whatever version is newest."""

    tool: str
    spec: str
    command: str

    @property
    def name(self) -> str:
        return _split_npm_spec(self.spec)[0] if self.tool in ("npm", "npx") else re.split(r"[<>=!~:\[;]", self.spec)[0]

    @property
    def message(self) -> str:
        return (
            f"{self.command!r} installs {self.spec} without a pinned version, so a new release changes the build "
            f"with no change here; {_ADVICE[self.tool].format(name=self.name)}"
        )


def unpinned_installs(buildspec: str) -> list[UnpinnedInstall]:
    """Every package a buildspec's commands install without an exact version."""
    return [install for command in buildspec_commands(buildspec) for install in _installs(command)]


def buildspec_commands(buildspec: str) -> list[str]:
    """Each shell command of a buildspec given as JSON or YAML text, split at newlines, `&&`, `||`, `;` and `|`."""
    document: Any
    try:
        document = json.loads(buildspec)
    except ValueError:
        try:
            document = yaml.safe_load(buildspec)
        except yaml.YAMLError:
            document = buildspec
    lines = [line for text in _strings(document) for line in text.splitlines()]
    return [part.strip() for line in lines for part in _SEPARATORS.split(line) if part.strip()]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _installs(command: str) -> list[UnpinnedInstall]:
    """The unpinned packages of one command (npm, npx, pip or python -m pip, gem)."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        tokens = command.split()
    while tokens and (tokens[0] in _COMMAND_PREFIXES or re.fullmatch(r"\w+=\S*", tokens[0])):
        tokens = tokens[1:]
    if not tokens:
        return []
    program, arguments = tokens[0].rsplit("/", 1)[-1], tokens[1:]
    if program in ("python", "python3") or re.fullmatch(r"python3\.\d+", program):
        program, arguments = _python_module(arguments)
    if re.fullmatch(r"pip3?(\.\d+)?", program):
        program = "pip"
    checker = {"npm": _npm, "npx": _npx, "pip": _pip, "gem": _gem}.get(program)
    return [UnpinnedInstall(program, spec, command) for spec in checker(arguments)] if checker else []


def _python_module(arguments: list[str]) -> tuple[str, list[str]]:
    """`python3 -m pip install x` -> ('pip', ['install', 'x'])."""
    if "-m" in arguments and arguments.index("-m") + 1 < len(arguments):
        at = arguments.index("-m")
        return arguments[at + 1], arguments[at + 2 :]
    return "python", arguments


def _split_npm_spec(spec: str) -> tuple[str, str | None]:
    """'@scope/pkg@1.2.3' -> ('@scope/pkg', '1.2.3'); 'pkg' -> ('pkg', None)."""
    at = spec.find("@", 1)
    return (spec[:at], spec[at + 1 :]) if at > 0 else (spec, None)


def _npm(arguments: list[str]) -> list[str]:
    if not arguments or arguments[0] not in ("install", "i", "add", "in"):
        return []
    if not {"-g", "--global", "--location=global"} & set(arguments):
        return []  # a project install resolves from package.json and its lock file
    specs = [a for a in arguments[1:] if not a.startswith("-") and not re.match(r"[./~]|\w+:", a)]
    return [s for s in specs if not _EXACT.fullmatch(_split_npm_spec(s)[1] or "")]


def _npx(arguments: list[str]) -> list[str]:
    specs: list[str] = []
    expecting_package = False
    for argument in arguments:
        if expecting_package or argument.startswith("--package="):
            specs.append(argument.removeprefix("--package="))
            expecting_package = False
        elif argument in ("-p", "--package"):
            expecting_package = True
        elif not argument.startswith("-"):
            specs.append(argument)  # the command itself; what follows are its arguments
            break
    # Without a version npx runs the project's installed (lock-pinned) copy; a tag asks for the newest.
    return [s for s in specs if re.match(r"[A-Za-z]", _split_npm_spec(s)[1] or "0")]


def _pip(arguments: list[str]) -> list[str]:
    if not arguments or arguments[0] != "install":
        return []
    specs: list[str] = []
    remaining = iter(arguments[1:])
    for argument in remaining:
        if argument in ("-c", "--constraint") or argument.startswith(("--constraint=", "-c")):
            return []  # every requirement is held to the constraints file's versions
        if argument in _PIP_VALUE_OPTIONS:
            next(remaining, None)
        elif not argument.startswith("-"):
            specs.append(argument)
    return [s for s in specs if not _pip_pinned(s)]


def _pip_pinned(spec: str) -> bool:
    """An exact requirement, or a local path, archive or URL rather than a name the index resolves."""
    return "==" in spec or "://" in spec or spec.startswith((".", "/", "~")) or spec.endswith((".whl", ".tar.gz"))


def _gem(arguments: list[str]) -> list[str]:
    if not arguments or arguments[0] != "install":
        return []
    if any(a in ("-v", "--version") or a.startswith("--version=") for a in arguments):
        return []
    specs: list[str] = []
    remaining = iter(arguments[1:])
    for argument in remaining:
        if argument in _GEM_VALUE_OPTIONS:
            next(remaining, None)
        elif not argument.startswith("-"):
            specs.append(argument)
    return [s for s in specs if ":" not in s]  # gem install name:1.2.3 pins too


def unpinned_tool_install(resource: ResourceView, ctx: Context) -> Verdict:
    """A CodeBuild project's inline buildspec installs no tool without an exact version."""
    if resource.type != "AWS::CodeBuild::Project":
        return Verdict.not_applicable()
    source = resource.properties.get("Source") or {}
    buildspec = source.get("BuildSpec") if isinstance(source, dict) else None
    if buildspec is None or (isinstance(buildspec, str) and re.fullmatch(r"[^\n{]+\.ya?ml", buildspec.strip())):
        return Verdict.not_applicable()  # the source's own file, or one of the assembly's (see below)
    installs = unpinned_installs(render(buildspec))
    if not installs:
        return Verdict.ok()
    return Verdict.fail(installs[0].spec, "; ".join(i.message for i in installs))


def check_assembly_buildspecs(assembly_dir: str | Path | CloudAssembly) -> list[str]:
    """One line per unpinned install in the buildspec files CDK Pipelines writes into the cloud assembly."""
    assembly = CloudAssembly.of(assembly_dir)
    lines: list[str] = []
    for path in assembly.buildspec_files():
        for install in unpinned_installs(path.read_text(encoding="utf-8")):
            where = path.relative_to(assembly.directory).as_posix()
            hint = _CDK_PIPELINES_HINTS.get(install.name, "")
            lines.append(f"{PACK}-{RULE_ID}[{install.spec}] at {where}: {install.message}{hint}")
    return lines


RULE = PreflightRule(
    RULE_ID,
    frozenset({"AWS::CodeBuild::Project"}),
    unpinned_tool_install,
    "A build that installs the newest release of a tool changes (or breaks) with no change to the repository.",
    ("CM-2", "CM-14", "SA-10"),
    shortdesc=(
        "a build step that installs a tool without an exact version (`npm install -g aws-cdk`, `cdk-assets@latest`,"
        " `pip install x`), in the templates and in the buildspec files CDK Pipelines writes into the assembly"
    ),
)

ASSEMBLY_RULE = AssemblyRule(
    RULE_ID,
    check_assembly_buildspecs,
    "The asset-publishing buildspecs CDK Pipelines writes into the assembly install tools at exact versions.",
    ("CM-2", "CM-14", "SA-10"),
    shortdesc=RULE.shortdesc,
)
