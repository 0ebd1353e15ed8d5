"""One background job of `kilngit watch`, in its own process: `python -m kilngit.sync.jobrun ROOT JOB_JSON`.

Exit codes tell the watcher what to do next: 0 done; 1 failed for good (a queued request gets a "failed"
outcome and is not run again); 75 not possible here and now (provider down, missing key or recording): retry
later, no outcome written; 130 interrupted (the watcher is stopping): resumes next time. The last line
printed is the job's one-line summary.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from kilngit.errors import EXIT_INTERRUPTED, Interrupted, KilngitError, ProviderError
from kilngit.joblock import die_with_parent
from kilngit.project import Project
from kilngit.sync.jobs import EXIT_RETRY_LATER, PARENT_ENV, Job
from kilngit.sync.queue import find_request, write_outcome


class RetryLater(Exception):
    """The job cannot finish on this machine now; nothing is recorded and the watcher tries again later."""


def run_job(project: Project, job: Job) -> str:
    """Run one job to the end; returns a one-line summary."""
    if job.kind == "eval":
        return _eval(project, job.task, job.args["eval"], {})
    if job.kind == "batch":
        from kilngit.sync.batches import follow_batches

        return follow_batches(project, job.args["origin"])
    if job.kind == "finetune":
        from kilngit.finetune.dispatch import refresh_finetune  # each job process loads only its kind

        status = refresh_finetune(project, job.task, job.args["finetune"])
        return f"fine-tune {job.args['finetune']}: {status.state}"
    request = find_request(project, job.task, job.args["request"])
    try:
        if request.job == "eval":
            options: dict[str, Any] = {}
            if "judges" in request.options:
                options["judges"] = str(request.options["judges"]).split(",")
            if "samples" in request.options:
                options["samples"] = int(request.options["samples"])
            summary = _eval(project, request.task, request.eval or "", options)
        else:
            summary = _run(
                project,
                request.task,
                request.run_config or "",
                request.filter,
                int(request.options.get("samples", 1)),
            )
    except (RetryLater, ProviderError, Interrupted, KeyboardInterrupt):
        raise
    except KilngitError as e:
        write_outcome(project, request, "failed", error=e.message)
        raise
    write_outcome(project, request, "done", summary=summary)
    return summary


def _eval(project: Project, task: str, eval_slug: str, options: dict[str, Any]) -> str:
    from kilngit.evals.runner import run_eval  # each job process loads only its kind (~250 ms)

    summary = run_eval(project, task, eval_slug, progress=False, **options)
    if summary.interrupted:
        summary.check()  # raises Interrupted
    if summary.fatal:
        raise RetryLater(str(summary.fatal))
    judged = sum(t.scored for t in summary.judges.values())
    errors = sum(sum(t.errors.values()) for t in summary.judges.values())
    later = sum(sum(t.not_recorded.values()) for t in summary.judges.values())
    if later and not judged:
        raise RetryLater(f"eval {eval_slug}: {later} judgement(s) failed and will be retried")
    return f"eval {eval_slug}: {judged} judged, {errors} error(s), {later} to retry"


def _run(project: Project, task: str, run_config: str, filter_text: str | None, samples: int) -> str:
    from kilngit.runner import run_task  # each job process loads only its kind

    summary = run_task(
        project, task, run_config, filter_text=filter_text or "input_only", samples=samples, progress=False
    )
    if summary.interrupted:
        summary.check()  # raises Interrupted
    if summary.fatal:
        raise RetryLater(str(summary.fatal))
    if summary.not_recorded and not summary.succeeded:
        raise RetryLater(summary.lines()[0])
    return summary.lines()[0]


def main(argv: list[str]) -> int:
    root, job_json = argv
    job = Job.from_json(job_json)
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit():
        die_with_parent(
            int(parent)
        )  # a killed watcher takes its jobs with it: no orphan doing the work twice
    try:
        print(run_job(Project(root), job), flush=True)
        return 0
    except (KeyboardInterrupt, Interrupted):
        print(f"{job.label}: interrupted; it resumes next time", flush=True)
        return EXIT_INTERRUPTED
    except (RetryLater, ProviderError, ModuleNotFoundError) as e:
        print(f"{job.label}: will retry later: {e}", flush=True)
        return EXIT_RETRY_LATER
    except KilngitError as e:
        print(f"{job.label}: failed: {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
