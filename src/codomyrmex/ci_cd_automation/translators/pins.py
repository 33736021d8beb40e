"""The GitHub actions the generator emits, pinned to full commit SHAs.

The SHAs are the commits the tags pointed at when recorded (cross-checked against pinned uses in
public workflows); change them only together with their tag. See docs/generators.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    action: str
    sha: str
    tag: str

    def uses(self) -> str:
        return f"{self.action}@{self.sha}"


CHECKOUT = Pin("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1")
SETUP_PYTHON = Pin("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0")
SETUP_NODE = Pin("actions/setup-node", "820762786026740c76f36085b0efc47a31fe5020", "v7.0.0")
SETUP_GO = Pin("actions/setup-go", "b7ad1dad31e06c5925ef5d2fc7ad053ef454303e", "v7.0.0")
CACHE = Pin("actions/cache", "55cc8345863c7cc4c66a329aec7e433d2d1c52a9", "v6.1.0")
CACHE_RESTORE = Pin("actions/cache/restore", CACHE.sha, CACHE.tag)
CACHE_SAVE = Pin("actions/cache/save", CACHE.sha, CACHE.tag)
UPLOAD_ARTIFACT = Pin(
    "actions/upload-artifact", "043fb46d1a93c77aae656e7c1c64a875d1fc6a0a", "v7.0.1"
)
DOWNLOAD_ARTIFACT = Pin(
    "actions/download-artifact", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"
)

SETUP = {"python": SETUP_PYTHON, "node": SETUP_NODE, "go": SETUP_GO}
ALL_PINS = (
    CHECKOUT,
    SETUP_PYTHON,
    SETUP_NODE,
    SETUP_GO,
    CACHE,
    CACHE_RESTORE,
    CACHE_SAVE,
    UPLOAD_ARTIFACT,
    DOWNLOAD_ARTIFACT,
)
