"""Every HTTP app builds, and documents its routes, without an error or a warning from the FastAPI in the
lock. Routes declared inside a factory are only checked when the factory runs: the mailbox's once failed
there (a union return annotation that FastAPI 0.165 refuses) and no test noticed."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from fastapi import FastAPI

from devstack.mailcatcher import MailCatcher, mailbox_app
from merchant_api.app import make_app as merchant_app
from plumbing.settings import Settings
from sandboxes.main import build_app as sandbox_app
from schemas import PLATFORMS

EXAMPLE = Path(__file__).parents[2] / "examples" / "config.yaml"


def built_cleanly(build) -> FastAPI:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = build()
        app.openapi()
    return app


def test_the_mailbox_builds_with_its_routes(tmp_path):
    app = built_cleanly(lambda: mailbox_app(MailCatcher(tmp_path / "mail")))
    assert {"/", "/{number}", "/{number}/text"} <= {route.path for route in app.routes}


def test_the_merchant_api_builds():
    assert built_cleanly(merchant_app).openapi()["paths"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_sandbox_builds(platform):
    settings = Settings(config=EXAMPLE)
    assert built_cleanly(lambda: sandbox_app(platform, settings, None, None)).routes
