"""Development tooling that is not part of the shipped package (not in setuptools' packages)."""
