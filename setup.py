"""The wheel's layout (the rest is in pyproject.toml): the repo's top-level templates/ and
glue_scripts/ travel inside the package as orderpipe/templates and orderpipe/glue_scripts."""

from setuptools import find_packages, setup

SHIPPED = [
    "orderpipe.data",
    "orderpipe.templates",
    "orderpipe.templates.iam",
    "orderpipe.templates.report",
]
setup(packages=[*find_packages(include=["orderpipe", "orderpipe.*"]), *SHIPPED,
                "orderpipe.glue_scripts"])  # fmt: skip
