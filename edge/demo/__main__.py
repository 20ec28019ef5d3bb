import sys

from edge.demo.run import main

sys.exit(main())
