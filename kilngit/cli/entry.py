"""The console entry point (`kilngit`, `python -m kilngit`).

For the commands whose warm run is mostly git's answer -- `kilngit [-C DIR] validate [--format F]`,
`status [--format F]` and `eval scores [...]` -- `git status` is started before the CLI itself is imported:
click with the command list takes ~30 ms that git can use meanwhile (`cache.early`). Only those forms are
recognised here; anything else (another command, a PATH, a flag before the command) runs as before, and click
parses every command line in any case.
"""

from __future__ import annotations

import os
import sys

from kilngit.cache import early


def run() -> None:
    """Run the `kilngit` command line in `sys.argv`."""
    plugins_off()
    folder = early_folder(sys.argv[1:])
    if folder is None:
        from kilngit.cli.main import run as run_cli

        run_cli()
        return
    with early.git_first(folder):  # the command's own `one_sync` shares this one, so it takes git's answer
        from kilngit.cli.main import end_process, main

        code = main()
    end_process(code)  # after the block, which waits for a git whose answer the command never took


def plugins_off() -> None:
    """Turn pydantic's plugins off for this process, with pydantic's documented switch, unless the user set
    it. kilngit uses none, and looking for them (a scan of every installed package's entry points) costs
    ~10 ms CPU before a command's first record model is ready; pydantic imports `importlib.metadata`
    either way. An empty
    `PYDANTIC_DISABLE_PLUGINS=` turns the search back on. The sandbox passes no such variable on
    (`sandbox.env`)."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def early_folder(args: list[str]) -> str | None:
    """The project folder of `kilngit ARGS` when it is a command that asks git first thing: `[-C DIR]
    validate [--format F]` or `status [--format F]` (each option in any spelling click accepts), or `eval
    scores` with any arguments but help. Else None. A guess on the safe side: a wrong one costs a git
    status (the command's end waits for it)."""
    if os.environ.get("KILNGIT_NO_CACHE"):
        return None  # everything is read afresh: git's answer would never be asked for
    folder, rest = _option(args, "-C", "--project")
    if rest[:1] in (["validate"], ["status"]):
        fmt, after = _option(rest[1:], None, "--format")
        if after or fmt not in (None, "text", "json"):
            return None
    elif rest[:2] != ["eval", "scores"] or "--help" in rest or "-h" in rest:
        return None
    return folder if folder is not None else "."


def _option(args: list[str], short: str | None, long: str) -> tuple[str | None, list[str]]:
    """(value, the arguments after it) when `args` start with the option in one of its spellings (`-C DIR`,
    `-CDIR`, `--project DIR`, `--project=DIR`), else (None, args)."""
    if not args:
        return None, args
    first = args[0]
    if first in (short, long):
        return (args[1], args[2:]) if len(args) > 1 else (None, args)
    if first.startswith(long + "="):
        return first[len(long) + 1 :], args[1:]
    if short is not None and first.startswith(short) and len(first) > len(short):
        return first[len(short) :], args[1:]
    return None, args
