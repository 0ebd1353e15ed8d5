"""docs/cli.md is the `--help` of every command; this test keeps it in step.

Regenerate with: python tests/cli/test_cli_reference.py
"""

from pathlib import Path

import click

from kilngit.cli.main import cli

DOC = Path(__file__).parents[2] / "docs" / "cli.md"


def render() -> str:
    parts = [
        "# kilngit command reference\n",
        "Generated from `--help` by `tests/cli/test_cli_reference.py`.\n",
    ]

    def visit(command: click.Command, path: list[str]) -> None:
        # help_option_names as the root group sets them (click caches the help option per command, so a
        # context without them renders -h or not depending on which test ran first).
        with click.Context(
            command,
            info_name=" ".join(path),
            terminal_width=100,
            max_content_width=100,
            help_option_names=["-h", "--help"],
        ) as ctx:
            parts.append(f"\n## {' '.join(path)}\n\n```\n{command.get_help(ctx).rstrip()}\n```\n")
            if isinstance(command, click.Group):
                for name in command.list_commands(ctx):
                    visit(command.get_command(ctx, name), [*path, name])

    visit(cli, ["kilngit"])
    return "".join(parts)


def test_cli_reference_is_up_to_date():
    assert DOC.read_text() == render(), "docs/cli.md is stale: run python tests/cli/test_cli_reference.py"


if __name__ == "__main__":
    DOC.write_text(render())
    print(f"wrote {DOC}")
