"""`python -m deploytool` runs the command line."""

from .cli import main

main()
