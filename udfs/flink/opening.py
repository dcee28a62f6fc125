"""One lock around the ``open()`` work of the job's Python operators in a worker process.

In thread mode all Python operators of a TaskManager share one embedded interpreter, and their
``open()`` calls run at the same time on different threads. This lock makes them open one at a
time. It was added while chasing a hang in ``import onnxruntime`` on an operator thread; that hang
is fixed elsewhere (``udfs.inference.ScorerOptions.open`` loads the model on a Python-created
thread) and persisted with this lock alone. The lock stays because removing it is not shown to be
safe: without it the standalone-cluster metrics test (``tests/e2e/test_cluster_job.py``) failed in 2
of 3 runs, with it in every run so far, and why is not understood. It costs nothing measurable
(once per task).
"""
from __future__ import annotations

import threading

OPEN_LOCK = threading.RLock()
