"""``python -m tracknet`` runs the command line."""

import sys

try:
    from tracknet.cli import main
except KeyboardInterrupt:  # Ctrl+C while the command line is still being imported
    sys.stderr.write("interrupted\n")
    sys.exit(130)

main()
