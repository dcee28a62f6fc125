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

# one bucket micro-batch after the fold: its users' lines, newline-joined (formats in
# udfs.features.bucket_fold); batch_start_ms: start of the micro-batch window; score_input: unused
# (empty: score inputs go to SCORE_TAG), kept so the row type of savepoints stays the same
BUCKET_FIELDS = ["bucket", "batch_start_ms", "n_users", "users", "score_input"]
_BUCKET_TYPES = [Types.INT(), Types.LONG(), Types.INT(), Types.STRING(), Types.STRING()]
BUCKET_ROWS = Types.ROW_NAMED(BUCKET_FIELDS, _BUCKET_TYPES)

# the applied events of one user batch for the item features: compact records, one per line
# (udfs.features.item_fold), split and grouped per item in Flink SQL
ITEM_RECORDS = Types.ROW_NAMED(["recs"], [Types.STRING()])
ITEM_TAG = OutputTag("item-records", ITEM_RECORDS)
# the item fold's output per item bucket batch: a pickled list (Types.PICKLED_BYTE_ARRAY) of one
# tuple per item in these fields, for the item writer (popularity key: time-invariant rank key)
ITEM_FIELDS = ("item_id", "event_time", "state_seq", "features", "popularity", "popularity_key", "category")

# the scoring path's input, a side output of the fold per bucket batch: score-key lines and
# score-input lines (udfs.features.bucket_fold); folded_ms: wall clock of the fold (score staleness)
SCORE_INPUT_FIELDS = ["bucket", "folded_ms", "n_users", "keys", "score_input"]
SCORE_INPUT_ROWS = Types.ROW_NAMED(SCORE_INPUT_FIELDS, _BUCKET_TYPES)
SCORE_TAG = OutputTag("score-input", SCORE_INPUT_ROWS)

# after scoring and the drift step: model output per user (JSON lines: embedding, top-K, version,
# cold_start) and the drift per user (lines: a float, or empty when there is none)
SCORED_FIELDS = ["bucket", "folded_ms", "n_users", "keys", "scores", "drifts"]
SCORED_ROWS = Types.ROW_NAMED(SCORED_FIELDS, _BUCKET_TYPES[:4] + [Types.STRING(), Types.STRING()])
# the same rows when the fold scores its users itself (model.runner=fold)
SCORED_TAG = OutputTag("scored", SCORED_ROWS)


def subtask_index(runtime_context) -> int:
    """Index of this parallel subtask. PyFlink 2.3's ``get_index_of_this_subtask`` calls a
    Java method that Flink 2 moved to ``getTaskInfo()``, so go through the task info of the Java
    context (``_runtime_context`` in thread mode, ``_j_runtime_context`` elsewhere). Raises rather
    than guessing: writers key their run counters by it, and two subtasks under one index would
    overwrite each other's counts."""
    try:
        return runtime_context.get_index_of_this_subtask()
    except Exception:
        pass
    for attr in ("_runtime_context", "_j_runtime_context"):
        j_ctx = getattr(runtime_context, attr, None)
        if j_ctx is not None:
            try:
                return int(j_ctx.getTaskInfo().getIndexOfThisSubtask())
            except Exception:
                continue
    raise RuntimeError(f"cannot tell this subtask's index from {type(runtime_context).__name__}")
