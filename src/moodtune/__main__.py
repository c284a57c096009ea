import sys

from moodtune.app.cli import main

sys.exit(main())
