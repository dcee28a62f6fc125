"""The wait an operator takes at the end of a bounded run, read from the job parameters."""
from __future__ import annotations

from udfs.flink.metrics import FINAL_METRICS_WAIT_PARAM, final_metrics_wait_s


class JobParameters:
    """A runtime context's job parameters (PyFlink's ``get_job_parameter``), nothing else."""

    def __init__(self, **params: str) -> None:
        self.params = params

    def get_job_parameter(self, key: str, default_value: str) -> str:
        return self.params.get(key, default_value)


def test_wait_is_read_in_seconds_from_the_job_parameter():
    assert final_metrics_wait_s(JobParameters(**{FINAL_METRICS_WAIT_PARAM: "1500"})) == 1.5


def test_no_parameter_or_a_bad_one_means_no_wait():
    assert final_metrics_wait_s(JobParameters()) == 0.0
    assert final_metrics_wait_s(JobParameters(**{FINAL_METRICS_WAIT_PARAM: "soon"})) == 0.0
    assert final_metrics_wait_s(JobParameters(**{FINAL_METRICS_WAIT_PARAM: "-5"})) == 0.0
    assert final_metrics_wait_s(object()) == 0.0
