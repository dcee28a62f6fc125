"""One lock around the heavy ``open()`` work of the job's Python operators in a worker process.

In thread mode all Python operators of a TaskManager share one embedded interpreter, and their
``open()`` calls run at the same time on different threads. Loading onnxruntime's extension
module in one of them while another creates the SQLite store's schema hung the job for good
(observed in the local mini-cluster: one thread inside ``import onnxruntime``, one inside
``executescript``, neither moving). Opening one operator at a time costs nothing measurable
(it happens once per task) and avoids it.
"""
from __future__ import annotations

import threading

OPEN_LOCK = threading.RLock()
