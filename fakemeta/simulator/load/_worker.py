"""`python -m fakemeta.simulator.load._worker FD`: one worker process of a load run.

`runner._Workers` starts it with one end of a socket pair as FD; the plan
and every report go over it (`multiprocessing.connection.Connection`).
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from fakemeta.simulator.load.runner import worker_main

if __name__ == "__main__":
    worker_main(Connection(int(sys.argv[1])))
