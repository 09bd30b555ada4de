"""Build configuration beyond pyproject.toml: the scenarios shipped inside the wheel.

The top-level ``scenarios/`` folder is the one copy of the scenario files in git
(users and docs point at it). ``package_dir`` maps the package ``sim._scenarios``
onto that folder, so a wheel (``pip install .``) carries the YAML files at
``sim/_scenarios/`` without a second copy in the repository; running from a clone
with ``PYTHONPATH`` finds ``scenarios/`` beside ``sim/`` instead (see
``sim.scenario.shipped``). pyproject.toml cannot say this alone: its
``packages.find`` only discovers folders that exist under ``sim/``.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["sim", "sim.*"]),
        "sim._scenarios",
        "sim._scenarios.validation",
    ],
    package_dir={"sim._scenarios": "scenarios"},
)
