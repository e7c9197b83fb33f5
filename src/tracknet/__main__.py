"""``python -m tracknet`` runs the command line."""

from tracknet.cli import main

main()
