"""Row types and side-output tags shared by the job's operators.

Defined at module level in an importable module (not ``__main__``) so cloudpickle
ships them by reference.
"""
from pyflink.common import Types
from pyflink.datastream import OutputTag

# origin: where the record came from ("topic/partition/offset" for Kafka; "" for files)
DEAD_FIELDS = ["stage", "reason", "raw", "origin"]
DEAD = Types.ROW_NAMED(DEAD_FIELDS, [Types.STRING(), Types.STRING(), Types.STRING(), Types.STRING()])
DEAD_TAG = OutputTag("dead-letters", DEAD)

FEATURE_FIELDS = ["user_id", "event_time", "state_seq", "n_applied", "event_count", "batch_start_ms",
                  "features", "sequence", "item_ids"]
_FEATURE_TYPES = [Types.STRING(), Types.LONG(), Types.LONG(), Types.INT(), Types.LONG(), Types.LONG(),
                  Types.STRING(), Types.STRING(), Types.STRING()]
FEATURES = Types.ROW_NAMED(FEATURE_FIELDS, _FEATURE_TYPES)

# the applied events of one user batch for the item features: compact records, one per line
# (udfs.features.item_fold), split and grouped per item in Flink SQL
ITEM_RECORDS = Types.ROW_NAMED(["recs"], [Types.STRING()])
ITEM_TAG = OutputTag("item-records", ITEM_RECORDS)
# one item's state after an item batch, for the item writer (popularity key: time-invariant rank key)
ITEM_FIELDS = ["item_id", "event_time", "state_seq", "features", "popularity", "popularity_key", "category"]
ITEM_ROW = Types.ROW_NAMED(ITEM_FIELDS, [Types.STRING(), Types.LONG(), Types.LONG(), Types.STRING(), Types.DOUBLE(),
                                         Types.DOUBLE(), Types.STRING()])

# feature row + model output (JSON: embedding, top-K, version, drift, cold_start) for the writer
SCORED_FIELDS = FEATURE_FIELDS + ["scores"]
SCORED = Types.ROW_NAMED(SCORED_FIELDS, _FEATURE_TYPES + [Types.STRING()])


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
