"""Internal: a click group whose subcommands are imported only when used, so `kilngit validate --changed`
does not pay for importing model SDKs."""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A group built from {name: "module:attribute"}; commands whose module is missing are hidden."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names |= {n for n in self.lazy if self._load(n) is not None}
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._load(cmd_name)

    def _load(self, name: str) -> click.Command | None:
        target = self.lazy.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:  # the command is not part of this build yet
                return None
            raise
        return refuse_empty_identifiers(getattr(module, attr))


#: Options and arguments that name something (a task, judge, run, person...): an empty value is never
#: meant (a shell variable that was not set), so it is a usage error rather than a silent default.
IDENTIFIER_OPTIONS = frozenset(
    {"--task", "--judge", "--config", "--as", "--split", "--prompt", "--part", "--eval"}
)
IDENTIFIER_ARGUMENTS = frozenset({"task", "evals", "eval_slug", "run", "slug", "name", "revisions", "base"})


def refuse_empty_identifiers(command: click.Command) -> click.Command:
    """Make every identifier parameter of `command` (and of its subcommands) refuse '' (exit 2)."""
    if getattr(command, "_refuses_empty", False):
        return command
    command._refuses_empty = True  # type: ignore[attr-defined]
    for param in command.params:
        named = (
            set(param.opts) & IDENTIFIER_OPTIONS
            if isinstance(param, click.Option)
            else {param.name} & IDENTIFIER_ARGUMENTS
        )
        if named:
            param.callback = _non_empty(param.callback)
    for sub in getattr(command, "commands", {}).values():
        refuse_empty_identifiers(sub)
    return command


def _non_empty(inner):  # type: ignore[no-untyped-def]
    def check(ctx: click.Context, param: click.Parameter, value):  # type: ignore[no-untyped-def]
        values = value if isinstance(value, (tuple, list)) else (value,)
        if any(isinstance(v, str) and not v.strip() for v in values):
            raise click.BadParameter("must not be empty", ctx=ctx, param=param)
        return inner(ctx, param, value) if inner else value

    return check
