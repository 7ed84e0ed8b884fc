"""Stored photos (`editor_service/assets.py`): who may read them, how long they stay, and removing one again."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from editor_service.assets import PART_MAX_AGE_S, AssetStore, path_of
from editor_service.images import check_image
from editor_service.settings import EditorSettings
from tests.editor_service.conftest import png
from tests.editor_service.fakes import ManualClock

RETENTION = EditorSettings.model_fields["asset_retention"].default
DAY = 86400


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def image():
    return check_image(png(), max_bytes=10**6, max_pixels=10**6)


def test_customers_photos_are_written_0600_in_a_0700_folder_whatever_the_umask(tmp_path, image):
    folder = tmp_path / "assets"
    folder.mkdir(mode=0o755)  # as an earlier version left it
    old = os.umask(0)
    try:
        store = AssetStore(folder, RETENTION)
        asset = store.save("photo", image)
    finally:
        os.umask(old)
    stored = path_of(asset.uri)
    assert mode(folder) == 0o700 and mode(stored) == 0o600
    assert stored.read_bytes() == image.data and stored.parent == folder.resolve()
    assert AssetStore(tmp_path / "new" / "assets", RETENTION).folder.stat().st_mode & 0o777 == 0o700


def test_customers_photos_are_deleted_by_the_sweep_once_their_retention_has_passed(tmp_path, image):
    clock = ManualClock()
    store = AssetStore(tmp_path / "assets", timedelta(days=90), clock)
    expired, young = store.save("photo", image), store.save("photo", image)
    os.utime(path_of(expired.uri), (clock() - 91 * DAY, clock() - 91 * DAY))
    os.utime(path_of(young.uri), (clock() - 89 * DAY, clock() - 89 * DAY))
    crashed, writing = store.folder / "a.part", store.folder / "b.part"
    for part, age in ((crashed, PART_MAX_AGE_S + 1), (writing, 10)):
        part.write_bytes(b"half")
        os.utime(part, (clock() - age, clock() - age))
    assert store.sweep() == 2
    assert not path_of(expired.uri).exists() and not crashed.exists()
    assert path_of(young.uri).exists() and writing.exists()
    clock.advance(2 * DAY)
    assert store.sweep() == 2 and not path_of(young.uri).exists() and not writing.exists()


def test_the_retention_is_a_setting_with_a_floor(monkeypatch):
    monkeypatch.setenv("PERSONALIZE_EDITOR_SECRET", "k" * 40)
    monkeypatch.setenv("PERSONALIZE_ASSET_RETENTION", "30d")
    assert EditorSettings().asset_retention == timedelta(days=30)
    assert timedelta(days=90) == RETENTION
    monkeypatch.setenv("PERSONALIZE_ASSET_RETENTION", "5m")
    with pytest.raises(ValueError, match="at least 1h"):
        EditorSettings()


@pytest.mark.parametrize("name", ["my assets", "fotos ünd bilder", "100% ✓"])
def test_discard_removes_the_file_when_the_assets_path_has_spaces_or_non_ascii(tmp_path, image, name):
    store = AssetStore(tmp_path / name / "assets", RETENTION)
    asset = store.save("photo", image)
    assert "%" in asset.uri  # the URI percent-encodes the path
    assert path_of(asset.uri).exists()
    store.discard(asset)
    assert list(store.folder.iterdir()) == []


def test_discard_leaves_files_outside_the_folder_alone(tmp_path, image):
    store = AssetStore(tmp_path / "assets", RETENTION)
    outside = tmp_path / "keep.png"
    outside.write_bytes(b"x")
    asset = store.save("photo", image)
    store.discard(asset.model_copy(update={"uri": outside.as_uri()}))
    assert outside.exists()
