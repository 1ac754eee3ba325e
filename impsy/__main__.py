"""``python -m impsy`` runs the same command line as ``impsy``."""

from impsy.cli import main

if __name__ == "__main__":
    main()
