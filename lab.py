#!/usr/bin/env python3
"""Entry point: python lab.py <command>. Everything lives in the reprolab package."""

import sys

from reprolab.cli import main

if __name__ == "__main__":
    sys.exit(main())
