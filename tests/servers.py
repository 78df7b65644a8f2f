"""Where the project's Temporal binaries live (installed by pip into the venv)."""

import shutil
import sys
from pathlib import Path


def binary(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run `make test`, which installs it")
    return found
