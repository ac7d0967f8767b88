"""``python -m mongoshard`` runs the command-line interface."""

from .cli import main

main()
