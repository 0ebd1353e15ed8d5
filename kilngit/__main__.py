from kilngit.cli.main import run

run()
