"""`python -m orderpipe`: the same CLI as the `orderpipe` command."""

from orderpipe.cli import main

if __name__ == "__main__":
    main()
