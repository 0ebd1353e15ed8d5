"""The GitHub Actions workflow `kilngit init --github` adds: on each pull request, validate the project, check
its evals (`kilngit eval check`), and post (or update) one comment with `kilngit review` of what the pull
request changes.

kilngit is not on a package index, so the workflow installs it from a source that exists: the git URL of the
kilngit it was written by, pinned to a commit (`kilngit @ git+https://...@<sha>`), found from how the running
kilngit was installed (pip's `direct_url.json`: a git install, or a checkout whose `origin` is a URL), or
given with `--kilngit-source` (any pip requirement: a git URL, a wheel committed to the repository...).
"""

from __future__ import annotations

import json
import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from kilngit import _git
from kilngit._io import atomic_write
from kilngit.errors import KilngitError
from kilngit.review.render import MARKER

WORKFLOW_PATH = ".github/workflows/kilngit.yml"

_TEMPLATE = """\
# Written by `kilngit init --github`. On each pull request: check every kilngit record (`kilngit validate`),
# check the evals' thresholds and judge gates (`kilngit eval check`), then post ONE comment (updated on each
# push) saying what the pull request changes in ratings, golden sets, tags, runs, judge results, definitions,
# eval scores and judge agreement (`kilngit review`).
name: kilngit

on:
  pull_request:

permissions:
  contents: read
  pull-requests: write  # to post and update the review comment

concurrency:
  group: kilngit-${{{{ github.event.pull_request.number }}}}
  cancel-in-progress: true

jobs:
  review:
    runs-on: ubuntu-latest
    env:
      # What `pip install` installs: kilngit pinned to the commit that wrote this workflow. To upgrade, point
      # it at a newer commit (or run `kilngit init --github --force` with a newer kilngit).
      KILNGIT_INSTALL: "{install}"
    defaults:
      run:
        working-directory: {workdir}  # the kilngit project inside this repository
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0  # the review compares the pull request with its base branch's history
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install kilngit
        run: python -m pip install "$KILNGIT_INSTALL"
      - name: Validate records
        run: kilngit validate
      - name: Check evals
        if: ${{{{ !cancelled() }}}}
        run: kilngit eval check
      - name: Review changes
        if: ${{{{ !cancelled() }}}}
        env:
          BASE_REF: ${{{{ github.base_ref }}}}
        run: |
          kilngit review "origin/$BASE_REF...HEAD" --format markdown > review.md
          cat review.md >> "$GITHUB_STEP_SUMMARY"
      - name: Post or update the review comment
        # Pull requests from forks get a read-only token: their review is in the job summary only.
        if: ${{{{ !cancelled() && github.event.pull_request.head.repo.full_name == github.repository }}}}
        uses: actions/github-script@v7
        with:
          script: |
            const fs = require("fs");
            const body = fs.readFileSync("{review_file}", "utf8");
            const marker = "{marker}";
            const {{ owner, repo }} = context.repo;
            const issue_number = context.issue.number;
            const comments = await github.paginate(github.rest.issues.listComments,
                                                   {{ owner, repo, issue_number, per_page: 100 }});
            const previous = comments.find((c) => c.body && c.body.startsWith(marker));
            if (previous) {{
              await github.rest.issues.updateComment({{ owner, repo, comment_id: previous.id, body }});
            }} else {{
              await github.rest.issues.createComment({{ owner, repo, issue_number, body }});
            }}
"""


def workflow_text(install: str, project_dir: str = ".") -> str:
    """The workflow for a project at `project_dir` (POSIX, relative to the repository root), installing
    kilngit with the pip requirement `install`."""
    if any(c in install for c in '"\n\\$`'):
        raise KilngitError(f"cannot use {install!r} as the kilngit source", "give a plain pip requirement")
    review_file = "review.md" if project_dir == "." else f"{project_dir}/review.md"
    return _TEMPLATE.format(workdir=project_dir, review_file=review_file, marker=MARKER, install=install)


def kilngit_source() -> str | None:
    """A pip requirement for the running kilngit pinned to its commit, from how it was installed; None when
    that cannot be told (a wheel from elsewhere, a checkout without a URL remote)."""
    try:
        text = distribution("kilngit").read_text("direct_url.json")
    except PackageNotFoundError:
        text = None
    info = json.loads(text) if text else {}
    vcs = info.get("vcs_info") or {}
    if vcs.get("vcs") == "git" and vcs.get("commit_id") and info.get("url"):
        return f"kilngit @ git+{info['url']}@{vcs['commit_id']}"
    url = str(info.get("url") or "")
    folder = Path(url.removeprefix("file://")) if url.startswith("file://") else Path(__file__).parents[2]
    return checkout_source(folder)


def checkout_source(folder: Path) -> str | None:
    """`kilngit @ git+<origin URL>@<HEAD commit>` for a kilngit git checkout whose origin is a URL."""
    if not (folder / "pyproject.toml").is_file() or _git.repo_root(folder) is None:
        return None
    origin = _git.run_git(folder, "remote", "get-url", "origin", check=False).strip()
    commit = _git.run_git(folder, "rev-parse", "HEAD", check=False).strip()
    if not origin or not commit:
        return None
    scp = re.fullmatch(r"([\w.-]+@[\w.-]+):(.+)", origin)  # git@github.com:owner/repo.git
    url = f"ssh://{scp.group(1)}/{scp.group(2)}" if scp else origin
    if "://" not in url:  # a local path; pip wants a host in file URLs (file://localhost/...), git takes it
        url = "file://localhost" + Path(url).absolute().as_posix()
    return f"kilngit @ git+{url}@{commit}"


def write_workflow(root: str | Path, force: bool = False, source: str | None = None) -> Path:
    """Write `.github/workflows/kilngit.yml` at the top of the git repository holding the project at `root`,
    installing kilngit from `source` (a pip requirement; default: where the running kilngit comes from).

    An existing workflow with other content is kept (someone may have edited it) unless `force`."""
    root = Path(root).absolute()
    top = _git.repo_root(root) or root
    project_dir = root.resolve().relative_to(top.resolve()).as_posix()
    path = top / WORKFLOW_PATH
    install = source or kilngit_source()
    if install is None:
        raise KilngitError(
            "cannot tell where this kilngit can be installed from (it is on no package index)",
            "pass --kilngit-source 'kilngit @ git+https://github.com/OWNER/kilngit@COMMIT' "
            "(or a wheel committed to this repository)",
        )
    text = workflow_text(install, project_dir)
    if path.is_file() and path.read_text(encoding="utf-8") != text and not force:
        raise KilngitError(
            f"{path} already exists with other content",
            "keep it, or remove it and run `kilngit init --github` again",
        )
    atomic_write(path, text.encode())
    return path
