"""What the pipeline's builds reach: a CodeArtifact package mirror and a build image pinned by digest."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from config import ConfigError, load_config, parse_config
from config.schema import EcrImage
from tests.conftest import FIXTURES, GOVCLOUD

BOUNDARY = FIXTURES / "boundary.yaml"
DIGEST = "5f0e0d7c8b9a1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9"


def _boundary() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(BOUNDARY.read_text())
    return raw


def _problems(pipeline: dict[str, Any]) -> list[str]:
    raw = copy.deepcopy(_boundary())
    raw["pipeline"].update(pipeline)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="test.yaml")
    return caught.value.problems


def _mirror(**fields: Any) -> dict[str, Any]:
    mirror: dict[str, Any] = {**_boundary()["pipeline"]["package_mirror"], **fields}
    return {"package_mirror": {k: v for k, v in mirror.items() if v is not None}}


def test_the_boundary_fixture_names_a_mirror_in_another_account_and_an_image_by_digest() -> None:
    pipeline = load_config(BOUNDARY).pipeline
    assert pipeline.package_mirror is not None
    assert pipeline.package_mirror.domain_owner not in (None, pipeline.account)
    image = pipeline.ecr_build_image
    assert image is not None
    assert (image.account, image.region, image.digest) == (pipeline.account, pipeline.region, DIGEST)
    assert image.uri == pipeline.build_image
    assert image.repository_arn("aws") == f"arn:aws:ecr:us-west-2:{pipeline.account}:repository/{image.repository}"


def test_without_a_mirror_or_an_image_the_builds_reach_the_public_registries_as_before() -> None:
    raw = _boundary()
    del raw["pipeline"]["package_mirror"], raw["pipeline"]["build_image"]
    pipeline = parse_config(raw).pipeline
    assert (pipeline.package_mirror, pipeline.build_image, pipeline.ecr_build_image) == (None, None, None)


def test_the_domain_owner_may_be_left_out() -> None:
    raw = _boundary()
    del raw["pipeline"]["package_mirror"]["domain_owner"]
    mirror = parse_config(raw).pipeline.package_mirror
    assert mirror is not None
    assert mirror.domain_owner is None  # the pipeline account's, as the pipeline reads it


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        ("49999999999", "pipeline.package_mirror.domain_owner: '49999999999' is not a 12-digit AWS account id"),
        ("owner", "pipeline.package_mirror.domain_owner: 'owner' is not a 12-digit AWS account id"),
        (
            499999999999,
            'pipeline.package_mirror.domain_owner: 499999999999 must be quoted, e.g. domain_owner: "012345678901"',
        ),
    ],
)
def test_a_bad_domain_owner_is_named(owner: Any, expected: str) -> None:
    assert _problems(_mirror(domain_owner=owner)) == [expected]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"domain": "Packages"}, "pipeline.package_mirror.domain: 'Packages' is not a CodeArtifact domain name"),
        ({"domain": "packages-"}, "pipeline.package_mirror.domain: 'packages-' is not a CodeArtifact domain name"),
        ({"domain": "p" * 51}, "pipeline.package_mirror.domain: 'ppppp"),
        (
            {"pypi_repository": "-pypi"},
            "pipeline.package_mirror.pypi_repository: '-pypi' is not a CodeArtifact repository name",
        ),
        ({"npm_repository": "n"}, "pipeline.package_mirror.npm_repository: 'n' is not a CodeArtifact repository name"),
        ({"npm_repository": None}, "pipeline.package_mirror.npm_repository: missing (required)"),
        ({"registry": "https://pypi.org"}, "pipeline.package_mirror.registry: unknown key"),
    ],
)
def test_a_bad_mirror_is_named(fields: dict[str, Any], expected: str) -> None:
    (problem,) = _problems(_mirror(**fields))
    assert problem.startswith(expected), problem


def test_a_mirror_needs_codeartifact_in_the_pipelines_region() -> None:
    raw: dict[str, Any] = yaml.safe_load(GOVCLOUD.read_text())
    raw["pipeline"]["package_mirror"] = _boundary()["pipeline"]["package_mirror"]
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="test.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("pipeline.package_mirror: {'domain': 'fixture-packages'")
    assert "needs AWS CodeArtifact in the pipeline's region, and us-gov-west-1 does not offer it" in problem


def test_one_repository_may_serve_both_pip_and_npm() -> None:
    raw = _boundary()
    raw["pipeline"]["package_mirror"]["npm_repository"] = raw["pipeline"]["package_mirror"]["pypi_repository"]
    mirror = parse_config(raw).pipeline.package_mirror
    assert mirror is not None
    assert mirror.npm_repository == mirror.pypi_repository


ECR = "410987654321.dkr.ecr.us-west-2.amazonaws.com/build/codebuild-standard"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (f"{ECR}:7.0", "is not pinned by digest: a tag can be moved to other content"),
        (f"{ECR}@sha256:{DIGEST[:63]}", "has a digest that is not sha256: followed by 64 lower-case hex digits"),
        (f"{ECR}@sha256:{DIGEST.upper()}", "has a digest that is not sha256: followed by 64 lower-case hex digits"),
        (f"{ECR}@sha512:{DIGEST}{DIGEST}", "is not pinned by digest"),
        (f"public.ecr.aws/codebuild/standard@sha256:{DIGEST}", "is not an Amazon ECR image URI"),
        (f"docker.io/library/python@sha256:{DIGEST}", "is not an Amazon ECR image URI"),
        (f"41098765432.dkr.ecr.us-west-2.amazonaws.com/build@sha256:{DIGEST}", "is not an Amazon ECR image URI"),
        (f"410987654321.dkr.ecr.us-west-2.amazonaws.com/Build@sha256:{DIGEST}", "is not an Amazon ECR image URI"),
        (
            f"410987654321.dkr.ecr.us-east-1.amazonaws.com/build@sha256:{DIGEST}",
            "must be in the pipeline's own region (410987654321.dkr.ecr.us-west-2.amazonaws.com/...)",
        ),
        (
            f"410987654321.dkr.ecr.us-west-2.amazonaws.com.cn/build@sha256:{DIGEST}",
            "must be in the pipeline's own region (410987654321.dkr.ecr.us-west-2.amazonaws.com/...)",
        ),
    ],
)
def test_a_build_image_not_pinned_by_digest_in_the_pipelines_region_is_refused(image: str, expected: str) -> None:
    (problem,) = _problems({"build_image": image})
    assert problem.startswith("pipeline.build_image: "), problem
    assert expected in problem, problem


def test_an_image_in_another_account_of_the_region_is_accepted() -> None:
    image = f"499999999999.dkr.ecr.us-west-2.amazonaws.com/golden/codebuild@sha256:{DIGEST}"
    raw = _boundary()
    raw["pipeline"]["build_image"] = image
    parsed = parse_config(raw).pipeline.ecr_build_image
    assert parsed == EcrImage("499999999999", "us-west-2", "amazonaws.com", "golden/codebuild", DIGEST)
