"""`veille docs`: the dbt documentation site - every model and column described, the lineage from
the claims sources to the reports (exposures), served locally."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from pathlib import Path

import typer

from veille.dbt import dbt_env, dbt_executable, dbt_project_dir, run_dbt
from veille.errors import VeilleError

PUBLISHED_SCHEMAS = ("marts", "scan", "pathways", "fraud")  # every model and column described


def target_dir(target_path: Path | None = None) -> Path:
    """Where dbt writes the site: TARGET_PATH, else dbt_project/target."""
    return Path(target_path) if target_path is not None else dbt_project_dir() / "target"


def generate(target_path: Path | None = None) -> Path:
    """`dbt docs generate` (manifest, catalog read from the database, site); the index.html path."""
    target = target_dir(target_path)
    args = ["docs", "generate", "--quiet"]
    if target_path is not None:
        args += ["--target-path", str(target)]
    if run_dbt(args, check=False) != 0:
        raise VeilleError("dbt docs generate failed: run `veille dbt docs generate` to see why")
    return target / "index.html"


def undocumented(target: Path) -> list[str]:
    """What the site leaves undescribed: a model without description; in the published schemas
    (PUBLISHED_SCHEMAS), a column the database has (catalog) without description, a described
    column the database does not have, a model not built. Empty when all is described."""
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())["nodes"]
    problems = []
    for uid, node in sorted(manifest["nodes"].items()):
        if node["resource_type"] != "model":
            continue
        name = node["name"]
        if not (node.get("description") or "").strip():
            problems.append(f"{name}: no description")
        if node["schema"] not in PUBLISHED_SCHEMAS:
            continue
        if uid not in catalog:
            problems.append(f"{name}: not in the database (build it to check its columns)")
            continue
        documented = {c.lower(): (col.get("description") or "").strip() for c, col in node["columns"].items()}
        actual = [c.lower() for c in catalog[uid]["columns"]]
        problems += [f"{name}.{c}: no description" for c in actual if not documented.get(c)]
        problems += [f"{name}.{c}: described but not in the database" for c in documented if c not in actual]
    return problems


def published_counts(target: Path) -> tuple[int, int]:
    """Models of the published schemas and their columns (as the database has them)."""
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())["nodes"]
    uids = [uid for uid, n in manifest["nodes"].items()
            if n["resource_type"] == "model" and n["schema"] in PUBLISHED_SCHEMAS]
    return len(uids), sum(len(catalog[uid]["columns"]) for uid in uids if uid in catalog)


def check_port_free(host: str, port: int) -> None:
    """Fail in one line when HOST:PORT cannot be listened on (dbt would print a traceback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise VeilleError(f"cannot serve the docs on {host}:{port} ({exc.strerror}): "
                              f"choose another with --port") from exc


def serve(target: Path, port: int, host: str = "127.0.0.1") -> None:
    """Become `dbt docs serve` on HOST:PORT (no browser opened): the process is replaced, so that
    Ctrl-C or a signal reaches the server itself."""
    exe = shutil.which(dbt_executable())
    if exe is None:
        raise VeilleError("dbt is not installed in this environment (pip install -e .)")
    sys.stdout.flush()
    os.chdir(dbt_project_dir())
    os.execve(exe, ["dbt", "docs", "serve", "--port", str(port), "--host", host, "--no-browser",
               "--target-path", str(target)], dbt_env())


def register(app: typer.Typer) -> None:
    @app.command("docs")
    def docs_cmd(
        serve_site: bool = typer.Option(True, "--serve/--no-serve",
                                        help="serve the site after generating it (--no-serve: generate only)"),
        port: int = typer.Option(8080, "--port", help="port of the docs server"),
        host: str = typer.Option("127.0.0.1", "--host", help="address the docs server listens on"),
    ) -> None:
        """Generate the dbt docs (models, columns, sources, exposures, lineage) and serve them."""
        if serve_site:
            check_port_free(host, port)
        index = generate()
        target = index.parent
        models, columns = published_counts(target)
        typer.echo(f"dbt docs generated: {index}")
        typer.echo(f"published schemas ({', '.join(PUBLISHED_SCHEMAS)}): {models} models, {columns} columns")
        for line in undocumented(target):
            typer.echo(f"  undescribed: {line}")
        if serve_site:
            typer.echo(f"serving the docs at http://{host}:{port}/ (lineage graph: the button at the "
                       f"bottom right); Ctrl-C stops")
            serve(target, port, host)
