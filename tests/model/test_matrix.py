"""Matrix expansion follows GitHub's documented include/exclude rules."""

from __future__ import annotations

from codomyrmex.ci_cd_automation.model.matrix import expand_matrix
from codomyrmex.ci_cd_automation.model.pipeline import Matrix


def matrix(**data: object) -> Matrix:
    return Matrix.model_validate(data)


def test_cross_product_in_axis_then_value_order() -> None:
    combos = expand_matrix(matrix(os=["linux", "mac"], py=["3.11", "3.12"]))
    assert combos == [
        {"os": "linux", "py": "3.11"},
        {"os": "linux", "py": "3.12"},
        {"os": "mac", "py": "3.11"},
        {"os": "mac", "py": "3.12"},
    ]


def test_exclude_removes_every_matching_combination() -> None:
    combos = expand_matrix(
        matrix(os=["linux", "mac"], py=["3.11", "3.12"], exclude=[{"os": "mac"}])
    )
    assert combos == [{"os": "linux", "py": "3.11"}, {"os": "linux", "py": "3.12"}]


def test_include_extends_matching_combinations_and_adds_the_rest() -> None:
    # The example of GitHub's documentation for jobs.<job_id>.strategy.matrix.include.
    combos = expand_matrix(
        matrix(
            fruit=["apple", "pear"],
            animal=["cat", "dog"],
            include=[
                {"color": "green"},
                {"color": "pink", "animal": "cat"},
                {"fruit": "apple", "shape": "circle"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"},
            ],
        )
    )
    assert combos == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_include_only_matrix() -> None:
    assert expand_matrix(matrix(include=[{"a": 1}, {"a": 2}])) == [{"a": 1}, {"a": 2}]
