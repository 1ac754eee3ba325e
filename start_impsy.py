#!/usr/bin/env python3
"""IMPSY users start the server with ``./start_impsy.py``; keep that working."""

from impsy.cli import main

if __name__ == "__main__":
    main()
