"""`python -m citylink` is the citylink command."""

from citylink.cli import main

main()
