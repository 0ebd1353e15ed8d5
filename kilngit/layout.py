"""Where each record kind lives in a project, and which kind a path holds.

    kilngit.yaml                                         project manifest
    tasks/<task>/task.yaml                               task
    tasks/<task>/prompts/<prompt>.yaml                   prompt
    tasks/<task>/run_configs/<config>.yaml               run config
    tasks/<task>/runs/<id[:2]>/<id>.json                 task run (content-addressed)
    tasks/<task>/annotations/<rater>/<run[:2]>/<run>.json  annotation (one per person per run)
    tasks/<task>/evals/<eval>/eval.yaml                  eval
    tasks/<task>/evals/<eval>/judges/<judge>.yaml        judge
    tasks/<task>/evals/<eval>/results/<judge>/<id[:2]>/<id>.json  judge result (content-addressed)
    tasks/<task>/splits/<split>.yaml                     dataset split
    tasks/<task>/splits/<split>.membership.json          frozen split membership
    tasks/<task>/finetunes/<name>/finetune.yaml          fine-tune spec
    tasks/<task>/finetunes/<name>/status.json            fine-tune status (runner only)
    tasks/<task>/finetunes/<name>/rounds/<n>.json        one round of the eval-driven loop (runner only)
    tasks/<task>/finetunes/<name>/metrics/<step>.json    per-step metrics from `step`, 100 a file (runner only)
    tasks/<task>/queue/<id>.json                         job request (content-addressed)
    tasks/<task>/queue/done/<id>.json                    job outcome (content-addressed)

Bulk collections are sharded by the first two hex digits of the ID: 256 folders, so a million runs put
about 4,000 files in each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kilngit.records import KINDS
from kilngit.records.base import Record

MANIFEST = "kilngit.yaml"
LOCAL_STATE = ".kilngit"
SHARD = 2

_SLUG = r"[a-z0-9][a-z0-9_-]{0,63}"
_ID = r"[0-9a-f]{16}"
_RATER = r"[a-z0-9][a-z0-9._@+-]{0,127}"


@dataclass(frozen=True)
class KindPath:
    """How one kind of record is laid out: its path pattern and file format."""

    kind: str
    pattern: re.Pattern[str]
    yaml: bool

    def match(self, relpath: str) -> dict[str, str] | None:
        m = self.pattern.fullmatch(relpath)
        return m.groupdict() if m else None


def _kp(kind: str, pattern: str) -> KindPath:
    return KindPath(kind, re.compile(pattern), pattern.endswith(r"\.yaml"))


_T = rf"tasks/(?P<task>{_SLUG})"
_E = rf"{_T}/evals/(?P<eval>{_SLUG})"
_F = rf"{_T}/finetunes/(?P<slug>{_SLUG})"
LAYOUT: tuple[KindPath, ...] = (
    _kp("project", r"kilngit\.yaml"),
    _kp("task", rf"{_T}/task\.yaml"),
    _kp("prompt", rf"{_T}/prompts/(?P<slug>{_SLUG})\.yaml"),
    _kp("run_config", rf"{_T}/run_configs/(?P<slug>{_SLUG})\.yaml"),
    _kp("task_run", rf"{_T}/runs/(?P<shard>[0-9a-f]{{2}})/(?P<id>{_ID})\.json"),
    _kp("annotation", rf"{_T}/annotations/(?P<rater>{_RATER})/(?P<shard>[0-9a-f]{{2}})/(?P<run>{_ID})\.json"),
    _kp("eval", rf"{_E}/eval\.yaml"),
    _kp("judge", rf"{_E}/judges/(?P<slug>{_SLUG})\.yaml"),
    _kp("judge_result", rf"{_E}/results/(?P<judge>{_SLUG})/(?P<shard>[0-9a-f]{{2}})/(?P<id>{_ID})\.json"),
    _kp("dataset_split", rf"{_T}/splits/(?P<slug>{_SLUG})\.yaml"),
    _kp("split_membership", rf"{_T}/splits/(?P<slug>{_SLUG})\.membership\.json"),
    _kp("finetune", rf"{_F}/finetune\.yaml"),
    _kp("finetune_status", rf"{_F}/status\.json"),
    _kp("finetune_round", rf"{_F}/rounds/(?P<round>[1-9][0-9]{{0,5}})\.json"),
    _kp("finetune_metrics", rf"{_F}/metrics/(?P<first_step>[1-9][0-9]{{0,8}})\.json"),
    _kp("job_request", rf"{_T}/queue/(?P<id>{_ID})\.json"),
    _kp("job_outcome", rf"{_T}/queue/done/(?P<id>{_ID})\.json"),
)
assert {k.kind for k in LAYOUT} <= set(KINDS), "every laid-out kind has a model"


@dataclass(frozen=True)
class Located:
    """A path classified: its kind and the parts of its identity the path encodes."""

    kind: str
    params: dict[str, str]
    yaml: bool


def classify(relpath: str) -> Located | None:
    """The kind of record `relpath` (POSIX, relative to the project root) must hold, or None."""
    for kp in LAYOUT:
        params = kp.match(relpath)
        if params is not None:
            return Located(kp.kind, params, kp.yaml)
    return None


def rater_dir(rater: str) -> str:
    """The folder name for a rater: lowercase, with characters outside [a-z0-9._@+-] replaced by '_'."""
    name = re.sub(r"[^a-z0-9._@+-]", "_", rater.strip().lower())[:128]
    return name if re.fullmatch(_RATER, name) else "_" + name[:127]


def task_dir(task: str) -> str:
    return f"tasks/{task}"


def task_file(task: str) -> str:
    return f"tasks/{task}/task.yaml"


def prompt_file(task: str, slug: str) -> str:
    return f"tasks/{task}/prompts/{slug}.yaml"


def run_config_file(task: str, slug: str) -> str:
    return f"tasks/{task}/run_configs/{slug}.yaml"


def run_file(task: str, run_id: str) -> str:
    return f"tasks/{task}/runs/{run_id[:SHARD]}/{run_id}.json"


def annotation_file(task: str, rater: str, run_id: str) -> str:
    return f"tasks/{task}/annotations/{rater_dir(rater)}/{run_id[:SHARD]}/{run_id}.json"


def eval_dir(task: str, eval_slug: str) -> str:
    return f"tasks/{task}/evals/{eval_slug}"


def eval_file(task: str, eval_slug: str) -> str:
    return f"tasks/{task}/evals/{eval_slug}/eval.yaml"


def judge_file(task: str, eval_slug: str, judge: str) -> str:
    return f"tasks/{task}/evals/{eval_slug}/judges/{judge}.yaml"


def judge_result_file(task: str, eval_slug: str, judge: str, result_id: str) -> str:
    return f"tasks/{task}/evals/{eval_slug}/results/{judge}/{result_id[:SHARD]}/{result_id}.json"


def split_file(task: str, slug: str) -> str:
    return f"tasks/{task}/splits/{slug}.yaml"


def split_membership_file(task: str, slug: str) -> str:
    return f"tasks/{task}/splits/{slug}.membership.json"


def finetune_file(task: str, slug: str) -> str:
    return f"tasks/{task}/finetunes/{slug}/finetune.yaml"


def finetune_status_file(task: str, slug: str) -> str:
    return f"tasks/{task}/finetunes/{slug}/status.json"


def finetune_round_file(task: str, slug: str, round_number: int) -> str:
    return f"tasks/{task}/finetunes/{slug}/rounds/{round_number}.json"


def finetune_metrics_file(task: str, slug: str, first_step: int) -> str:
    return f"tasks/{task}/finetunes/{slug}/metrics/{first_step}.json"


def job_request_file(task: str, request_id: str) -> str:
    return f"tasks/{task}/queue/{request_id}.json"


def job_outcome_file(task: str, outcome_id: str) -> str:
    return f"tasks/{task}/queue/done/{outcome_id}.json"


def record_path(record: Record) -> str:
    """The path a machine or owned record must live at, derived from its own fields."""
    d = record.__dict__
    match record.kind:
        case "task_run":
            return run_file(d["task"], d["id"])
        case "annotation":
            return annotation_file(d["task"], d["rater"], d["run"])
        case "judge_result":
            return judge_result_file(d["task"], d["eval"], d["judge"], d["id"])
        case "split_membership":
            return split_membership_file(d["task"], d["split"])
        case "finetune_status":
            return finetune_status_file(d["task"], d["finetune"])
        case "job_request":
            return job_request_file(d["task"], d["id"])
        case "job_outcome":
            return job_outcome_file(d["task"], d["id"])
        case "finetune_round":
            return finetune_round_file(d["task"], d["finetune"], d["round"])
        case "finetune_metrics":
            return finetune_metrics_file(d["task"], d["finetune"], d["first_step"])
    raise ValueError(f"{record.kind} records are named by their file; pass the path explicitly")
