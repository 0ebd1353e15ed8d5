"""The `kilngit` command: global options, the command list, and the one place errors become exit codes."""

from __future__ import annotations

import atexit
import datetime
import os
import sys
import threading
import traceback
from pathlib import Path

import click

from kilngit.cli._common import CliState
from kilngit.cli._lazy import LazyGroup
from kilngit.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USAGE, Interrupted, KilngitError

#: Command name -> "module:attribute". `--help` reads each listed module's source (cli/_lazy.py); a command module imports
#: the library it calls inside its command function, when it runs.
COMMANDS = {
    "init": "kilngit.cli.init:init",
    "validate": "kilngit.cli.validate:validate",
    "migrate": "kilngit.cli.migrate:migrate",
    "status": "kilngit.cli.status:status",
    "show": "kilngit.cli.show:show",
    "runs": "kilngit.cli.runs:runs",
    "schema": "kilngit.cli.schema:schema",
    "task": "kilngit.cli.task:task",
    "prompt": "kilngit.cli.scaffold:prompt",
    "config": "kilngit.cli.scaffold:config",
    "judge": "kilngit.cli.scaffold:judge",
    "add": "kilngit.cli.add:add",
    "run": "kilngit.cli.run:run",
    "generate": "kilngit.cli.generate:generate",
    "eval": "kilngit.cli.eval:eval_group",
    "report": "kilngit.cli.report:report",
    "rate": "kilngit.cli.rate:rate",
    "tag": "kilngit.cli.tag:tag",
    "sample": "kilngit.cli.tag:sample",
    "label": "kilngit.cli.label:label",
    "review": "kilngit.cli.review:review",
    "import": "kilngit.cli.kiln:import_group",
    "export": "kilngit.cli.kiln:export_group",
    "split": "kilngit.cli.split:split",
    "finetune": "kilngit.cli.finetune:finetune",
    "batch": "kilngit.cli.batch:batch",
    "watch": "kilngit.cli.watch:watch",
    "trust": "kilngit.cli.trust:trust_command",
    "queue": "kilngit.cli.queue:queue",
    "merge-annotation": "kilngit.cli.merge_annotation:merge_annotation",
    "audit": "kilngit.cli.audit:audit",
    "serve": "kilngit.cli.serve:serve",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run as if kilngit was started in PATH (like git -C).",
)
@click.option(
    "--unsandboxed",
    is_flag=True,
    help="Run project code (code judges) as plain processes, without the sandbox: they can then read "
    "your files and keys and use the network. Also $KILNGIT_UNSANDBOXED=1.",
)
@click.option(
    "--trust",
    "trust_checkout",
    is_flag=True,
    help="Trust the project's code and jobs as checked out now, then run the command (like `kilngit "
    "trust --yes` first: for CI, or a project you just cloned on purpose).",
)
@click.version_option(package_name="kilngit")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path | None, unsandboxed: bool, trust_checkout: bool) -> None:
    """kilngit: an AI project (tasks, runs, ratings, evals, fine-tunes) kept in git, one file per record.

    Exit codes: 0 done; 1 a problem kilngit explains (including a command that did none of the work asked:
    see each command); 2 a usage error; 3 a bug (a log file is named); 130 interrupted."""
    if unsandboxed:  # the sandbox and trust modules load only for their flags
        from kilngit.sandbox import set_unsandboxed

        set_unsandboxed()
    ctx.obj = CliState(project_dir)
    if trust_checkout:
        from kilngit.trust import review, trust

        trust(review(ctx.obj.project().root))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every outcome to an exit code (see kilngit.errors)."""
    try:
        # Without standalone mode click returns the code of `ctx.exit(n)` instead of exiting.
        rv = cli.main(args=argv, prog_name="kilngit", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KilngitError as e:
        click.echo(f"{'' if isinstance(e, Interrupted) else 'error: '}{e}", err=True)
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return EXIT_USAGE if isinstance(e, click.UsageError) else e.exit_code
    except (KeyboardInterrupt, click.Abort):
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception:  # a bug: keep the traceback in a log, show a short message
        log = _crash_log()
        click.echo(
            f"error: kilngit crashed (a bug). Details: {log}\n  please report it with that file", err=True
        )
        return EXIT_BUG


def _crash_log() -> Path:
    import tempfile  # here: only a crash needs it (~3 ms of every command's start-up)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    fd, name = tempfile.mkstemp(prefix=f"kilngit-crash-{stamp}-", suffix=".log")
    with open(fd, "w") as f:
        f.write(" ".join(sys.argv) + "\n\n" + traceback.format_exc())
    return Path(name)


def run() -> None:
    """Console-script entry point."""
    end_process(main())


def end_process(code: int) -> None:
    """End the process with `code`. When nothing is left to run at exit (no atexit callback: temporary
    folders, process pools and loggers register one; no other thread), the interpreter's teardown is
    skipped: freeing every module and object does nothing a caller can see, yet costs ~25 ms of a warm
    command that takes a few hundred (pydantic's modules and the record models are many objects)."""
    if atexit._ncallbacks() == 0 and threading.active_count() == 1:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            sys.exit(code)  # a closed pipe: let the usual teardown report it as before
        os._exit(code)
    sys.exit(code)
