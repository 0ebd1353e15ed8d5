"""Creating a project: `kilngit.yaml`, `.gitattributes`, `.gitignore`, editor schemas, and git."""

from __future__ import annotations

from pathlib import Path

from kilngit import _git, layout
from kilngit._io import atomic_write, dump_yaml
from kilngit.errors import KilngitError
from kilngit.project import Project, definition_data, schema_header
from kilngit.records import ProjectManifest
from kilngit.review.annotation_merge import install_driver
from kilngit.schema import write_schemas

GITATTRIBUTES = """\
# Written by kilngit. Machine-made records are marked generated, so GitHub collapses them in pull-request
# diffs; human annotations and hand-edited definitions stay visible for review.
tasks/*/runs/** linguist-generated=true
tasks/*/evals/*/results/** linguist-generated=true
tasks/*/splits/*.membership.json linguist-generated=true
tasks/*/finetunes/*/status.json linguist-generated=true
tasks/*/finetunes/*/rounds/** linguist-generated=true
tasks/*/finetunes/*/metrics/** linguist-generated=true
recordings/** linguist-generated=true
*.json text eol=lf
*.yaml text eol=lf
"""

GITIGNORE = f"""\
# kilngit local state: caches, locks, logs, editor schemas. Never committed.
{layout.LOCAL_STATE}/
"""


def init_project(path: str | Path, name: str | None = None) -> Project:
    """Create a kilngit project at `path` (running `git init` unless it is already inside a repository)."""
    root = Path(path).absolute()
    if (root / layout.MANIFEST).exists():
        raise KilngitError(f"{root} is already a kilngit project", "use it as it is, or pick another folder")
    root.mkdir(parents=True, exist_ok=True)
    if _git.repo_root(root) is None:
        _git.run_git(root, "init", "-q")
        # Index v4 and the untracked cache keep `git status` (and `validate --changed`) quick at a million files.
        _git.run_git(root, "config", "feature.manyFiles", "true")
    _add_missing_lines(root / ".gitattributes", GITATTRIBUTES)
    _add_missing_lines(root / ".gitignore", GITIGNORE)
    (root / "tasks").mkdir(exist_ok=True)
    write_schemas(root / layout.SCHEMA_DIR)  # committed: editors find them in every clone
    ensure_local_state(root)
    install_driver(root)
    header = "# kilngit project manifest (format: docs/format.md in kilngit)\n" + schema_header(
        "project", layout.MANIFEST
    )
    manifest = ProjectManifest(name=name or root.name, layout=layout.LAYOUT)
    # Last: the manifest makes the folder a project, so a killed init is redone whole by the next one.
    atomic_write(root / layout.MANIFEST, dump_yaml(definition_data(manifest), header))
    return Project(root)


def ensure_local_state(root: str | Path) -> Path:
    """Create the local state folder (`.kilngit/`) with the JSON Schemas editors use."""
    state = Path(root) / layout.LOCAL_STATE
    write_schemas(state / "schema")
    return state


def _add_missing_lines(path: Path, block: str) -> None:
    """Append the lines of `block` that `path` lacks, keeping whatever the user already had."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    have = set(existing.splitlines())
    new = [line for line in block.splitlines() if line not in have]
    if new:
        sep = "" if not existing or existing.endswith("\n") else "\n"
        atomic_write(path, (existing + sep + "\n".join(new) + "\n").encode())
