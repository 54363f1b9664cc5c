"""``/docs`` works without the internet: Swagger UI's script, stylesheet and icon come from this server.

The plants run Foreshock on networks with no way out. Swagger UI's JS and CSS came from
cdn.jsdelivr.net and its icon from fastapi.tiangolo.com, so ``/docs`` was a blank page there.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.testing import memory_context


class _Assets(HTMLParser):
    """Every URL a page asks the browser to load, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(a[key] or "")
        self._in_script = tag == "script" and not a.get("src")
        if self._in_script:
            self.inline.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline[-1] += data


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(memory_context())) as c:
        yield c


def _assets(html: str) -> _Assets:
    parsed = _Assets()
    parsed.feed(html)
    return parsed


def test_docs_page_loads_only_same_origin_assets(client):
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = _assets(r.text).urls
    assert urls, r.text
    foreign = [u for u in urls if not u.startswith("/") or u.startswith("//")]
    assert foreign == [], f"/docs loads these from elsewhere: {foreign}"
    assert "cdn.jsdelivr.net" not in r.text and "tiangolo.com" not in r.text
    # the page's own calls: the schema at /api/v1/openapi.json
    assert "'/api/v1/openapi.json'" in r.text


@pytest.mark.parametrize("kind, content_type, marker", [
    ("swagger-ui-bundle.js", "javascript", b"SwaggerUIBundle"),
    ("swagger-ui.css", "text/css", b".swagger-ui"),
    ("rel=\"shortcut icon\"", "image/", b""),
])
def test_every_docs_asset_is_served_with_its_type(client, kind, content_type, marker):
    html = client.get("/docs").text
    urls = _assets(html).urls
    if kind.startswith("rel="):
        url = re.search(r'<link rel="shortcut icon" href="([^"]+)"', html).group(1)
    else:
        url = next(u for u in urls if u.endswith(kind))
    r = client.get(url)
    assert r.status_code == 200, url
    assert content_type in r.headers["content-type"], (url, r.headers["content-type"])
    assert marker in r.content


def test_docs_policy_allows_this_server_and_the_page_own_script_only(client):
    r = client.get("/docs")
    csp = r.headers["content-security-policy"]
    assert "http" not in csp, csp  # no CDN, no other site
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0], csp
    for script in _assets(r.text).inline:  # the page's inline script is allowed by its hash
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp


def test_oauth2_redirect_page_needs_nothing_from_elsewhere(client):
    r = client.get("/docs/oauth2-redirect")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assets = _assets(r.text)
    assert assets.urls == [] and assets.inline
    csp = r.headers["content-security-policy"]
    assert "http" not in csp and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0], csp
    for script in assets.inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, csp


def test_vendored_swagger_ui_carries_its_licence(client):
    assert client.get("/static/vendor/swagger-ui/LICENSE").text.lstrip().startswith("Apache License")
    assert "SmartBear" in client.get("/static/vendor/swagger-ui/NOTICE").text
