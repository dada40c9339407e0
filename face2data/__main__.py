import sys

from face2data.cli import main

sys.exit(main())
