"""Create a configured StreamExecutionEnvironment + table environment for recstream jobs."""
from __future__ import annotations

from recstream.config import RecstreamConfig
from recstream.flink_env import prepare_process_env, python_conf


def flink_configuration(cfg: RecstreamConfig) -> dict[str, str]:
    job = cfg.job
    conf = {
        **python_conf(),
        "python.execution-mode": job.execution_mode,
        "python.state.cache-size": str(job.state_cache_size),
        "pipeline.name": job.name,
        "parallelism.default": str(job.parallelism),
        "table.local-time-zone": "UTC",
    }
    if cfg.model.active():
        # Arrow batches never cross a bundle, so both bound the model's batch size
        conf["python.fn-execution.arrow.batch.size"] = str(cfg.model.batch_size)
        conf["python.fn-execution.bundle.size"] = str(cfg.model.batch_size)
        conf["python.fn-execution.bundle.time"] = str(cfg.model.max_wait_ms)
    if job.restart_attempts:
        conf.update({"restart-strategy.type": "fixed-delay",
                     "restart-strategy.fixed-delay.attempts": str(job.restart_attempts),
                     "restart-strategy.fixed-delay.delay": "2 s"})
    else:
        conf["restart-strategy.type"] = "none"
    if job.checkpoint_interval_ms:
        conf["execution.checkpointing.interval"] = f"{job.checkpoint_interval_ms} ms"
        if job.checkpoint_dir:
            conf["execution.checkpointing.dir"] = job.checkpoint_dir.resolve().as_uri()
    conf.update(job.flink_conf)
    return conf


def create_environments(cfg: RecstreamConfig):
    prepare_process_env()
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    conf = Configuration()
    for k, v in flink_configuration(cfg).items():
        conf.set_string(k, v)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(cfg.job.parallelism)
    t_env = StreamTableEnvironment.create(env)
    return env, t_env
