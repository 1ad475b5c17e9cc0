"""Build script: declares the compiled extension of the ``cython`` backend.

Everything else about the package lives in ``pyproject.toml``.
"""

from setuptools import setup

setup()
