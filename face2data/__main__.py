import sys

from face2data.cli import main

# The guard matters: the batch engine's worker processes (spawn) import this module again as __mp_main__.
if __name__ == "__main__":
    sys.exit(main())
