"""Shared bits of the bindings tests: test media, split into frames."""
import os
from pathlib import Path

import pytest

from ivcs.testing import split_adts, split_annexb

MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", Path(__file__).resolve().parents[2] / "build" / "media"))


@pytest.fixture(scope="session")
def h264_frames():
    """[(bytes, is_key)] of the 12 s test clip (300 frames, GOP 25)."""
    return split_annexb((MEDIA / "clip_h264.h264").read_bytes())


@pytest.fixture(scope="session")
def aac_frames():
    return split_adts((MEDIA / "clip_aac.aac").read_bytes())
