"""A real HTTP client against ``recstream serve`` over a store the real job wrote (pseudonymised ids,
API-key auth): reads, batch reads, errors, metrics and the OpenAPI schema."""
from __future__ import annotations

import json

import pytest

from recstream.reader import open_reader
from tests.recstream.serving.conftest import API_KEY, KEY, Server
from udfs.features.as_of import features_as_of
from udfs.privacy import Pseudonymizer

pytestmark = pytest.mark.flink
ps = Pseudonymizer(KEY)


def _stored(job_store, raw: str) -> dict:
    overrides, _, _ = job_store
    with open_reader(overrides=overrides) as r:
        return r.get_user_state(ps(raw), as_of="event")


def test_user_read_takes_the_raw_id_and_answers_with_the_stored_key_only(server, job_store):
    raw = job_store[2][0]
    got = server.client.get(f"/users/{raw}")
    assert got.status_code == 200, got.text
    body = got.json()
    stored = _stored(job_store, raw)
    assert body["user_id"] == ps(raw) == stored["user_id"]
    assert raw not in got.text
    # by default the window counts and decayed values are evaluated as of the read
    read_at = body["as_of"]["read_at"]
    assert body["as_of"]["windows_as_of"] == body["features"]["as_of"] == read_at
    assert body["features"] == json.loads(json.dumps(features_as_of(stored["features"], read_at)))
    assert body["sequence"] == stored["sequence"]
    as_stored = server.client.get(f"/users/{raw}", params={"as_of": "event"}).json()
    assert as_stored["features"] == stored["features"] and "tiles" in as_stored["features"]
    assert body["top_k"]["items"] == stored["scores"]["items"] and body["top_k"]["scores"] == stored["scores"]["scores"]
    assert body["embedding"] == stored["scores"]["embedding"] and len(body["embedding"]) > 0
    assert body["model_version"] == stored["scores"]["model_version"]
    assert body["drift"] == stored["scores"]["drift"]
    assert body["as_of"]["state_event_time"] == stored["event_time"] == as_stored["as_of"]["windows_as_of"]
    st = body["staleness"]
    assert st["state_event_age_ms"] == body["as_of"]["read_at"] - stored["event_time"]
    assert st["state_written_age_ms"] == body["as_of"]["read_at"] - stored["updated_at"] >= 0
    assert st["score_behind_state_ms"] == stored["event_time"] - stored["scores"]["event_time"]


def test_fields_k_n_and_as_of(server, job_store):
    raw = job_store[2][1]
    stored = _stored(job_store, raw)
    body = server.client.get(f"/users/{raw}", params={"fields": "top_k,sequence", "k": 2, "n": 3}).json()
    assert set(body) == {"user_id", "as_of", "top_k", "sequence"}
    assert body["top_k"]["items"] == stored["scores"]["items"][:2]
    assert body["sequence"] == stored["sequence"][-3:]
    later = server.client.get(f"/users/{raw}", params={"fields": "model,features", "as_of": stored["event_time"] + 1})
    assert later.status_code == 200 and later.json()["as_of"]["requested"] == stored["event_time"] + 1
    assert later.json()["features"]["windows_as_of"] == stored["event_time"] + 1
    iso = server.client.get(f"/users/{raw}", params={"fields": "model", "as_of": "2999-01-01T00:00:00Z"})
    assert iso.json()["as_of"]["requested"] == 32472144000000
    before = server.client.get(f"/users/{raw}", params={"as_of": stored["event_time"] - 1})
    assert before.status_code == 400 and "newest state only" in before.json()["error"]


@pytest.mark.parametrize("params, reason", [
    ({"fields": "features,bogus"}, "unknown field(s) bogus"),
    ({"k": 0}, "k must be between"),
    ({"k": "ten"}, "k: "),
    ({"as_of": "yesterday"}, "as_of 'yesterday'"),
])
def test_bad_input_is_400_with_the_reason(server, job_store, params, reason):
    got = server.client.get(f"/users/{job_store[2][0]}", params=params)
    assert got.status_code == 400 and reason in got.json()["error"]
    assert "Traceback" not in got.text


def test_unknown_user_is_404_and_never_echoes_the_raw_id(server):
    got = server.client.get("/users/nobody-at-all")
    assert got.status_code == 404 and got.json() == {"error": "unknown user"}
    assert server.client.get("/ui/users/nobody-at-all").status_code == 404


def test_batch_get_answers_in_request_order(server, job_store):
    raws = job_store[2][:5]
    got = server.client.post("/users:batchGet", json={"user_ids": [raws[0], "nobody", *raws[1:]],
                                                      "fields": "top_k,model", "k": 3})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["found"] == 5 and body["missing"] == [1] and body["users"][1] is None
    for raw, user in zip([raws[0], *raws[1:]], [body["users"][0], *body["users"][2:]]):
        single = server.client.get(f"/users/{raw}", params={"fields": "top_k,model", "k": 3}).json()
        assert user["user_id"] == ps(raw) and user["top_k"] == single["top_k"]
        assert user["model_version"] == single["model_version"]
        assert raw not in json.dumps(body)


def test_batch_errors(server):
    too_many = server.client.post("/users:batchGet", json={"user_ids": [f"u{i}" for i in range(51)]})
    assert too_many.status_code == 413 and "at most 50" in too_many.json()["error"]
    assert server.client.post("/users:batchGet", json={"user_ids": "u1"}).status_code == 400
    bad = server.client.post("/users:batchGet", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    assert server.client.post("/users:batchGet", json={"user_ids": []}).json() == {"users": [], "found": 0,
                                                                                  "missing": []}


def test_items_and_popular(server, job_store):
    overrides = job_store[0]
    with open_reader(overrides=overrides) as r:
        pop = r.get_popular_items("global")
        item = r.get_item(pop["items"][0])
        cat = item["features"]["category"]
        pop_cat = r.get_popular_items(f"category:{cat}")
    got = server.client.get("/popular", params={"k": 3}).json()
    assert got["items"] == pop["items"][:3] and got["scores"] == pop["scores"][:3]
    assert server.client.get("/popular", params={"scope": f"category:{cat}"}).json()["items"] == pop_cat["items"]
    assert server.client.get("/popular", params={"scope": "category:no-such"}).status_code == 404
    assert server.client.get("/popular", params={"scope": "everything"}).status_code == 400
    assert server.client.get(f"/items/{pop['items'][0]}").json() == item
    assert server.client.get("/items/no-such-item").status_code == 404


def test_api_key_is_required_except_for_health_metrics_and_docs(server, job_store):
    raw = job_store[2][0]
    import httpx

    with httpx.Client(base_url=server.base) as anon:
        assert anon.get(f"/users/{raw}").status_code == 401
        assert anon.get(f"/users/{raw}", headers={"X-API-Key": API_KEY[:-1] + "x"}).status_code == 401
        assert anon.get(f"/users/{raw}", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
        assert anon.post("/users:batchGet", json={"user_ids": [raw]}).status_code == 401
        assert anon.get("/popular").status_code == 401
        assert anon.get("/healthz").json() == {"status": "ok", "store": "sqlite"}
        assert anon.get("/metrics").status_code == 200
        assert anon.get("/openapi.json").status_code == 200 and anon.get("/docs").status_code == 200


def test_metrics_count_requests_errors_and_store_latency(server, job_store):
    server.client.get(f"/users/{job_store[2][0]}")
    server.client.get("/users/nobody-at-all")
    text = server.client.get("/metrics").text
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
             if line and not line.startswith("#")}
    route = 'route="/users/{user_id:path}"'
    assert lines[f'recstream_serve_requests_total{{method="GET",{route},status="200"}}'] >= 1
    assert lines[f'recstream_serve_errors_total{{{route},status="404"}}'] >= 1
    assert lines[f'recstream_serve_request_seconds_count{{{route}}}'] >= 2
    assert lines['recstream_serve_store_seconds_count{op="user"}'] >= 2
    assert lines['recstream_serve_store_seconds_count{op="batch"}'] >= 0
    # unknown paths share one label value
    server.client.get("/no/such/path/123")
    assert 'route="unmatched"' in server.client.get("/metrics").text


def test_openapi_schema_and_docs_page(server):
    schema = server.client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/users/{user_id}", "/users:batchGet", "/items/{item_id}", "/popular", "/healthz", "/metrics"):
        assert path in paths, sorted(paths)
    assert {"400", "404", "503"} <= set(paths["/users/{user_id}"]["get"]["responses"])
    assert "413" in paths["/users:batchGet"]["post"]["responses"]
    page = server.client.get("/docs").text
    assert "/users:batchGet" in page and "/openapi.json" in page and "cdn" not in page.lower()


def test_unreachable_store_is_503_and_the_server_recovers(tmp_path, job_store):
    """No store file yet: 503 (no path, no trace in the answer); once the file exists, 200."""
    import shutil

    overrides, tmp, raws = job_store
    path = tmp_path / "later.sqlite"
    srv = Server(["--store", str(path), "--set", "privacy.pseudonymize=true", "--set",
                  f"privacy.key_file={tmp / 'key'}"])
    try:
        for url in ("/healthz", f"/users/{raws[0]}", "/popular"):
            got = srv.client.get(url)
            assert got.status_code == 503 and got.json() == {"error": "store unreachable"}, got.text
        assert srv.client.post("/users:batchGet", json={"user_ids": [raws[0]]}).status_code == 503
        shutil.copy(tmp / "store.sqlite", path)
        assert srv.client.get("/healthz").status_code == 200
        assert srv.client.get(f"/users/{raws[0]}").json()["user_id"] == ps(raws[0])
        text = srv.client.get("/metrics").text
        assert 'recstream_serve_store_errors_total{kind="unavailable",op="health"}' in text
    finally:
        srv.close()


def test_an_oversized_body_is_413_before_it_is_parsed(server):
    big = b'{"user_ids": ["' + b"x" * 400_000 + b'"]}'
    got = server.client.post("/users:batchGet", content=big, headers={"content-type": "application/json"})
    assert got.status_code == 413 and "request body larger than" in got.json()["error"]

    def chunks():  # no content-length: counted while it is read
        for _ in range(8):
            yield b" " * 60_000
        yield b'{"user_ids": []}'

    got = server.client.post("/users:batchGet", content=chunks(), headers={"content-type": "application/json"})
    assert got.status_code == 413 and "request body larger than" in got.json()["error"]
    # a body under the limit still works
    assert server.client.post("/users:batchGet", json={"user_ids": ["nobody"]}).json()["missing"] == [0]
