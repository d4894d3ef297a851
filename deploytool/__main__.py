"""`python -m deploytool` runs the command line."""

from deploytool.cli import main

if __name__ == "__main__":  # not when multiprocessing re-imports it
    main()
