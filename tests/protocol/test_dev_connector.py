"""The development connector: a local page, through the same sign-in flow."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import ORIGIN, path_and_query, query_of, session_of, start_sign_in


def dev_form(client: FlaskClient) -> dict[str, str]:
    url = start_sign_in(client, "dev", callbackURL="/home")
    assert url.startswith("http://localhost/api/auth/dev/sign-in?")
    page = client.get(path_and_query(url))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return {
        name: unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html)
    }


def test_a_developer_signs_in_as_the_user_they_choose(client: FlaskClient) -> None:
    form = dev_form(client)
    answer = client.post(
        "/api/auth/dev/sign-in",
        data={
            **form,
            "name": "Test Person",
            "email": "Test@Example.com",
            "email_verified": "on",
            "action": "sign-in",
        },
        headers=ORIGIN,
    )
    assert answer.status_code == 303
    back = client.get(path_and_query(answer.headers["Location"]))
    assert back.status_code == 302 and back.headers["Location"] == "/home"
    user = session_of(client)["user"]
    assert (user["name"], user["email"], user["emailVerified"]) == (
        "Test Person",
        "test@example.com",
        True,
    )


def test_cancelling_on_the_dev_page_ends_in_access_denied(client: FlaskClient) -> None:
    form = dev_form(client)
    answer = client.post("/api/auth/dev/sign-in", data={**form, "action": "cancel"}, headers=ORIGIN)
    back = client.get(path_and_query(answer.headers["Location"]))
    assert query_of(back.headers["Location"])["error"] == "access_denied"
    assert session_of(client) is None


def test_a_tampered_dev_code_is_refused(client: FlaskClient) -> None:
    form = dev_form(client)
    answer = client.post(
        "/api/auth/dev/sign-in", data={**form, "action": "sign-in"}, headers=ORIGIN
    )
    location = answer.headers["Location"]
    code = query_of(location)["code"]
    tampered = location.replace(code, code[:-2] + ("AA" if code[-2:] != "AA" else "BB"))
    back = client.get(path_and_query(tampered))
    assert query_of(back.headers["Location"])["error"] == "invalid_code"
    assert session_of(client) is None


def test_the_dev_page_only_sends_codes_to_our_own_callback(client: FlaskClient) -> None:
    form = dev_form(client)
    response = client.post(
        "/api/auth/dev/sign-in",
        data={**form, "redirect_uri": "https://evil.example/cb", "action": "sign-in"},
        headers=ORIGIN,
    )
    assert response.status_code == 400


def test_without_the_dev_connector_there_is_no_dev_page_and_no_dev_provider(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(IDP_DEV_CONNECTOR="false").test_client()
    page = client.get("/api/auth/dev/sign-in?state=s&nonce=n&redirect_uri=x")
    assert page.status_code == 404
    started = client.post("/api/auth/sign-in/social", json={"provider": "dev"}, headers=ORIGIN)
    assert started.status_code == 404
    assert started.get_json()["code"] == "PROVIDER_NOT_FOUND"
