"""The command line: parsing, the commands, the console's tables and lines."""
