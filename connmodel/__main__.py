"""`python -m connmodel ...`: the CLI, for supervisors that start it with a given interpreter."""

from connmodel.cli import main

main()
