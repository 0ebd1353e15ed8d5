"""The GitHub Actions workflow `kilngit init --github` adds: on each pull request, validate the project and
post (or update) one comment with `kilngit review` of what the pull request changes."""

from __future__ import annotations

from pathlib import Path

from kilngit import _git
from kilngit._io import atomic_write
from kilngit.errors import KilngitError
from kilngit.review.render import MARKER

WORKFLOW_PATH = ".github/workflows/kilngit.yml"

_TEMPLATE = """\
# Written by `kilngit init --github`. On each pull request: check every kilngit record (`kilngit validate`),
# then post ONE comment (updated on each push) saying what the pull request changes in ratings, golden sets,
# tags, runs, judge results, definitions, eval scores and judge agreement (`kilngit review`).
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
      # What `pip install` installs. To use kilngit from a repository instead of PyPI, use a line like:
      # KILNGIT_INSTALL: "kilngit @ git+https://github.com/OWNER/kilngit@main"
      KILNGIT_INSTALL: kilngit
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


def workflow_text(project_dir: str = ".") -> str:
    """The workflow for a project at `project_dir` (POSIX, relative to the repository root)."""
    review_file = "review.md" if project_dir == "." else f"{project_dir}/review.md"
    return _TEMPLATE.format(workdir=project_dir, review_file=review_file, marker=MARKER)


def write_workflow(root: str | Path, force: bool = False) -> Path:
    """Write `.github/workflows/kilngit.yml` at the top of the git repository holding the project at `root`.

    An existing workflow with other content is kept (someone may have edited it) unless `force`."""
    root = Path(root).absolute()
    top = _git.repo_root(root) or root
    project_dir = root.resolve().relative_to(top.resolve()).as_posix()
    path = top / WORKFLOW_PATH
    text = workflow_text(project_dir)
    if path.is_file() and path.read_text(encoding="utf-8") != text and not force:
        raise KilngitError(f"{path} already exists with other content",
                           "keep it, or remove it and run `kilngit init --github` again")
    atomic_write(path, text.encode())
    return path
