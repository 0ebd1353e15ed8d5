"""`kilngit --help` lists every command with its short help without importing the command modules (it reads\ntheir source), exactly as click lists them."""

from __future__ import annotations

import subprocess
import sys

import click

from kilngit.cli.main import COMMANDS, cli

CHILD = """
import sys
from kilngit.cli.main import main
main(["--help"])
print(sorted(m for m in sys.modules if m.startswith("kilngit.cli.") and m not in ("kilngit.cli.main",
      "kilngit.cli._common", "kilngit.cli._lazy")))
"""


def test_help_imports_no_command_module():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout
    # only those whose decorator has arguments that may change their line (hidden=True, cls=LazyGroup)
    assert out.strip().splitlines()[-1] == "['kilngit.cli.merge_annotation', 'kilngit.cli.run']"


def _listing(width: int, eager: bool) -> str:
    ctx = click.Context(cli, info_name="kilngit")
    formatter = click.HelpFormatter(width=width)
    if eager:  # click's own listing, every command imported
        click.Group.format_commands(cli, ctx, formatter)
    else:
        cli.format_commands(ctx, formatter)
    return formatter.getvalue()


def test_listing_is_clicks_own():
    for width in (60, 80, 200):
        lazy = _listing(width, eager=False)
        assert lazy == _listing(width, eager=True)
        assert all(name in lazy for name in COMMANDS if name != "merge-annotation")  # that one is hidden
