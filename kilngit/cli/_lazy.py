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
        return getattr(module, attr)
