"""Run dbt against veille's database: the profile reads the settings of veille.db."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from veille import db


def dbt_project_dir() -> Path:
    return db.project_root() / "dbt_project"


def dbt_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(db.settings().env())
    env["DBT_PROFILES_DIR"] = str(dbt_project_dir())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def dbt_executable() -> str:
    exe = Path(sys.executable).with_name("dbt")
    return str(exe) if exe.exists() else "dbt"


def run_dbt(args: list[str], *, check: bool = True, quiet: bool = False) -> int:
    """Run ``dbt ARGS`` in dbt_project/ with the profile pointing at veille's database."""
    proc = subprocess.run(
        [dbt_executable(), *args],
        cwd=dbt_project_dir(),
        env=dbt_env(),
        stdout=subprocess.DEVNULL if quiet else None,
        check=False,
    )
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, ["dbt", *args])
    return proc.returncode
