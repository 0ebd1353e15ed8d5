"""`kilngit watch`: the sync daemon (see docs/watch.md)."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project, format_option, print_json


@click.command()
@click.option("--once", is_flag=True, help="Process everything pending once (commit, jobs, sync) and exit.")
@click.option(
    "--status", "show_status", is_flag=True, help="Show what the running watcher is doing and exit."
)
@click.option("--sync", is_flag=True, help="Pull (rebase) and push: keep the remote branch up to date.")
@click.option("--remote", help="Remote to sync with (default: the branch's upstream, else origin).")
@click.option(
    "--sync-interval",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    envvar="KILNGIT_WATCH_SYNC_INTERVAL",
    help="Seconds between pulls when nothing is committed.",
)
@click.option("--poll", is_flag=True, help="Poll the files instead of using OS events (network mounts).")
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between polls with --poll.",
)
@click.option(
    "--quiet",
    "quiet_s",
    type=click.FloatRange(min=0.0),
    default=1.5,
    show_default=True,
    envvar="KILNGIT_WATCH_QUIET",
    help="Commit once files have been quiet this many seconds...",
)
@click.option(
    "--max-wait",
    "max_wait_s",
    type=click.FloatRange(min=0.0),
    default=10.0,
    show_default=True,
    envvar="KILNGIT_WATCH_MAX_WAIT",
    help="...or once the oldest change has waited this long.",
)
@click.option(
    "--jobs/--no-jobs",
    default=True,
    show_default=True,
    help="Run pending work: auto-run evals, queued requests, fine-tunes in progress.",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Jobs running at the same time.",
)
@click.option(
    "--job-cooldown",
    type=click.FloatRange(min=0.0),
    default=30.0,
    show_default=True,
    envvar="KILNGIT_WATCH_JOB_COOLDOWN",
    help="Seconds before a job that ended is started again if still pending (doubles each time).",
)
@format_option("text", "json")
def watch(
    once: bool,
    show_status: bool,
    sync: bool,
    remote: str | None,
    sync_interval: float,
    poll: bool,
    poll_interval: float,
    quiet_s: float,
    max_wait_s: float,
    jobs: bool,
    max_jobs: int,
    job_cooldown: float,
    fmt: str,
) -> None:
    """Watch the project: validate and commit changed files, run pending jobs, and with --sync pull and push.

    Invalid files are never committed: they are reported here and in .kilngit/problems.json, and retried
    when they change. Files you staged by hand are left for you to commit. Stop with Ctrl-C or SIGTERM:
    the current commit finishes first."""
    from kilngit.sync.daemon import Watch, WatchOptions
    from kilngit.sync.statusfile import read_status, status_lines

    project = current_project()
    if show_status:
        data = read_status(project.root)
        if fmt == "json":
            print_json(data)
        else:
            for line in status_lines(data):
                click.echo(line)
        return
    options = WatchOptions(
        quiet_s=quiet_s,
        max_wait_s=max_wait_s,
        poll=poll,
        poll_interval_s=poll_interval,
        sync=sync,
        remote=remote,
        sync_interval_s=sync_interval,
        jobs=jobs,
        max_jobs=max_jobs,
        job_cooldown_s=job_cooldown,
    )
    watcher = Watch(project.root, options, say=click.echo)
    raise click.exceptions.Exit(watcher.once() if once else watcher.run())
