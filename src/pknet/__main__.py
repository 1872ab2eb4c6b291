"""`python -m pknet`: the `pknet` command."""

from pknet.cli import main

main()
