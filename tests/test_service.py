"""The app shell: health, OpenAPI, error shapes, request log without personal data."""

from __future__ import annotations

import logging
from dataclasses import replace

from litestar.testing import AsyncTestClient

from service.app import create_app


async def test_health_ok(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_database_down_gives_503_at_once(settings):
    unreachable = replace(
        settings, database_url="postgresql://postgres@127.0.0.1:9/none", db_connect_timeout=1.0
    )
    async with AsyncTestClient(app=create_app(unreachable)) as client:
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.headers["content-type"].startswith("application/problem+json")
        api = await client.get("/api/v1/conferences")
        assert api.status_code == 503
        assert api.json()["status"] == 503
        page = await client.get("/")
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")


async def test_openapi_documents_every_route(client):
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/health",
        "/api/v1/conferences",
        "/api/v1/conferences/{slug}",
        "/api/v1/conferences/{slug}/programme",
        "/api/v1/conferences/{slug}/programme/{item_id}",
    ):
        assert path in paths, path
    assert {"get", "post"} <= set(paths["/api/v1/conferences"])
    assert "patch" in paths["/api/v1/conferences/{slug}"]


async def test_schema_page_is_served_without_cdn(client):
    page = await client.get("/schema")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    asset = await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200


async def test_unknown_page_is_html_and_unknown_api_is_problem(client):
    page = await client.get("/gibt/es/nicht")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    api = await client.get("/api/v1/gibt-es-nicht")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_malformed_json_is_400_problem(client, organiser):
    response = await client.post(
        "/api/v1/conferences",
        content=b"{not json",
        headers={**organiser.headers, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_request_log_has_route_templates_not_values(client, organiser, caplog):
    caplog.set_level(logging.INFO, logger="tagung.requests")
    await client.get("/api/v1/conferences/privat-geheim-123?email=someone@example.org")
    lines = [r.getMessage() for r in caplog.records if r.name == "tagung.requests"]
    assert any("/api/v1/conferences/{slug}" in line for line in lines)
    assert not any("privat-geheim-123" in line or "example.org" in line for line in lines)


async def test_an_id_beyond_bigint_is_not_found(client, organiser):
    response = await client.get("/api/v1/forums/99999999999999999999")
    assert response.status_code in (400, 404)
    huge = await client.delete(
        "/api/v1/conferences/x/programme/9223372036854775808", headers=organiser.headers
    )
    assert huge.status_code == 404


async def test_large_answers_are_compressed(client):
    response = await client.get("/schema/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == "gzip"
    small = await client.get("/health", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
