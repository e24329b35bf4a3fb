import sys

from milvus_lab.pipeline.cli import main

sys.exit(main())
