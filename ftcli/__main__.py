"""`python -m ftcli` (also what `accelerate launch -m ftcli` runs)."""

from ftcli.cli.app import main

if __name__ == "__main__":
    main()
