"""The Beam data-plane hang-up at the end of a local job (seen when a Kafka job is cancelled) is not
reported as an unhandled thread exception, and nothing else is hidden with it.

The hang-up is reproduced for real: Beam's worker data channel against a gRPC server that cancels
the stream the way Flink's BeamFnDataGrpcMultiplexer.close() does; the inner test session runs with
the project's ``filterwarnings``."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

HANG_UP = '''
import time
from concurrent import futures

import grpc
import pytest
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.runners.worker.data_plane import GrpcClientDataChannel


class CancelStream(beam_fn_api_pb2_grpc.BeamFnDataServicer):
    def __init__(self, details):
        self.details = details

    def Data(self, request_iterator, context):
        time.sleep(0.2)
        context.abort(grpc.StatusCode.CANCELLED, self.details)


@pytest.mark.parametrize("details", ["Multiplexer hanging up", "something else"])
def test_cancelled(details):
    server = grpc.server(futures.ThreadPoolExecutor(2))
    beam_fn_api_pb2_grpc.add_BeamFnDataServicer_to_server(CancelStream(details), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    data = GrpcClientDataChannel(beam_fn_api_pb2_grpc.BeamFnDataStub(channel))
    assert data._reads_finished.wait(30)  # the reader thread has raised and ended
    time.sleep(0.2)  # excepthook runs after the thread's finally block
    server.stop(0)
'''


def test_only_the_multiplexer_hang_up_is_filtered(tmp_path):
    filters = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["filterwarnings"]
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings =\n" + "".join(f"    {f}\n" for f in filters))
    (tmp_path / "test_hang_up.py").write_text(HANG_UP)
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rw", "test_hang_up.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120).stdout
    assert "2 passed, 1 warning" in out, out
    assert out.count("Exception in thread read_grpc_client_inputs") == 1, out
    assert 'details = "something else"' in out and "Multiplexer hanging up" not in out, out
