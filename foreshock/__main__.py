import sys

from foreshock.cli import main

sys.exit(main())
