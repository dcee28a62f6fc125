"""A local standalone Flink cluster started from the installed ``apache-flink`` package,
and job submission to it (or to any Flink session cluster reachable over REST).

- :mod:`recstream.cluster.conf`: the cluster's config folder (config.yaml, lib links, pid/log dirs)
- :mod:`recstream.cluster.local`: start / stop / status of the processes, by pid
- :mod:`recstream.cluster.state`: which cluster a command addresses (the one ``cluster start`` recorded)
- :mod:`recstream.cluster.rest`: the Flink REST API (jobs, checkpoints, metrics, savepoints)
- :mod:`recstream.cluster.submit`: ship code, model and config, ``flink run -d``, cancel / stop with savepoint
"""
from recstream.cluster.conf import ClusterLayout, flink_home
from recstream.cluster.local import LocalCluster
from recstream.cluster.rest import FlinkRest, RestError

__all__ = ["ClusterLayout", "FlinkRest", "LocalCluster", "RestError", "flink_home"]
