"""Row types and side-output tags shared by the job's operators.

Defined at module level in an importable module (not ``__main__``) so cloudpickle
ships them by reference.
"""
from pyflink.common import Types
from pyflink.datastream import OutputTag

DEAD_FIELDS = ["stage", "reason", "raw"]
DEAD = Types.ROW_NAMED(DEAD_FIELDS, [Types.STRING(), Types.STRING(), Types.STRING()])
DEAD_TAG = OutputTag("dead-letters", DEAD)

FEATURE_FIELDS = ["user_id", "event_time", "state_seq", "n_applied", "features", "sequence"]
FEATURES = Types.ROW_NAMED(
    FEATURE_FIELDS,
    [Types.STRING(), Types.LONG(), Types.LONG(), Types.INT(), Types.STRING(), Types.STRING()],
)


def subtask_index(runtime_context) -> int:
    """Index of this parallel subtask. PyFlink 2.3's ``get_index_of_this_subtask`` calls a
    Java method that Flink 2 moved to ``getTaskInfo()``, so go through the task info."""
    try:
        return runtime_context.get_index_of_this_subtask()
    except Exception:
        j_ctx = getattr(runtime_context, "_j_runtime_context", None)
        if j_ctx is not None:
            return int(j_ctx.getTaskInfo().getIndexOfThisSubtask())
        return 0
