from kilngit.cli.entry import run

run()
