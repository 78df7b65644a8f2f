"""notify's docs: served with local assets (no CDN), all of it behind the service token."""

import re

import httpx
import pytest

from tests.notify.builders import assert_refused

REFERENCE = re.compile(r'(?:src|href)="([^"]*)"')


@pytest.mark.parametrize("notify_db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_use_local_assets_behind_the_token(
    client: httpx.Client, anonymous: httpx.Client, page: str
) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    references = REFERENCE.findall(answer.text)
    assert any(reference.endswith(".js") for reference in references), answer.text
    for reference in references:
        assert reference.startswith("/docs/static/"), reference
        assert client.get(reference).status_code == 200, reference
        assert_refused(anonymous.get(reference))
