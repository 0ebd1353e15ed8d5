"""Internal: a click group whose subcommands are imported only when used, so `kilngit validate --changed`
does not pay for importing model SDKs, and `kilngit --help` reads the command list's short help from the
command modules' source instead of importing them all."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from typing import TypeGuard

import click

#: Command decorator arguments that change the command list's line; with any of them, the module is imported.
_LISTING_ARGS = frozenset({"help", "short_help", "hidden", "deprecated", "cls"})


class LazyGroup(click.Group):
    """A group built from {name: "module:attribute"}; commands whose module is missing are hidden."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}
        self._listing: dict[str, click.Command] = {}  # stand-ins while `format_commands` runs

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names |= {n for n in self.lazy if importlib.util.find_spec(self.lazy[n].split(":")[0]) is not None}
        return sorted(names)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, with a stand-in (name and docstring, read from the source) for each command
        that is neither loaded yet nor declared with arguments that change its line."""
        self._listing = {n: c for n in self.list_commands(ctx) if (c := self._stand_in(n)) is not None}
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = {}

    def _stand_in(self, name: str) -> click.Command | None:
        target = self.lazy.get(name)
        if target is None or name in self.commands:
            return None
        module_name, attr = target.split(":")
        spec = importlib.util.find_spec(module_name)
        if spec is None or spec.origin is None:
            return None
        for node in ast.parse(Path(spec.origin).read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name == attr:
                for deco in node.decorator_list:
                    if _is_command_decorator(deco):
                        if any(kw.arg in _LISTING_ARGS or kw.arg is None for kw in deco.keywords):
                            return None
                        return click.Command(name, help=ast.get_docstring(node, clean=False))
        return None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._listing.get(cmd_name) or super().get_command(ctx, cmd_name) or self._load(cmd_name)

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


def _is_command_decorator(node: ast.expr) -> TypeGuard[ast.Call]:
    """`@click.command(...)`, `@click.group(...)` or `@<group>.command(...)` / `.group(...)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("command", "group")
    )


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
