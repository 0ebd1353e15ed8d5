"""Internal: the click command-line layer. Each command parses its arguments and calls one library function."""
