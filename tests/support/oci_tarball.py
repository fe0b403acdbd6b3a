"""Read an image from an OCI image-layout tarball (`dagger call … tarball export`): its
config, its layers and the files they hold, without Docker.

The layout is the OCI image-layout spec's: index.json → manifest → config and layer blobs
under blobs/sha256/; layers are tar archives (gzip or plain), applied in order, with
`.wh.` whiteouts removing what lower layers had.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

WHITEOUT = ".wh."


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int  # compressed, as stored


class OciTarball:
    """One image in an OCI layout tarball (the first manifest of its index)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with tarfile.open(path) as archive:
            self._blobs = {m.name.removeprefix("./"): m for m in archive.getmembers() if m.isfile()}
        index = self._json("index.json")
        manifest = index["manifests"][0]
        if manifest.get("mediaType", "").endswith("image.index.v1+json"):
            manifest = self._json(self._blob_path(manifest["digest"]))["manifests"][0]
        self.manifest = self._json(self._blob_path(manifest["digest"]))
        self.config: dict[str, Any] = self._json(self._blob_path(self.manifest["config"]["digest"]))
        self.layers = [Layer(layer["digest"], layer["size"]) for layer in self.manifest["layers"]]

    @staticmethod
    def _blob_path(digest: str) -> str:
        algorithm, hexdigest = digest.split(":", 1)
        return f"blobs/{algorithm}/{hexdigest}"

    def _read(self, name: str) -> bytes:
        with tarfile.open(self.path) as archive:
            member = archive.extractfile(self._blobs[name])
            assert member is not None, name
            return member.read()

    def _json(self, name: str) -> Any:
        return json.loads(self._read(name))

    def files(self) -> dict[str, bytes | None]:
        """Every regular file and symlink of the image after all layers (path → content;
        None for symlinks), paths without a leading slash."""
        merged: dict[str, bytes | None] = {}
        for layer in self.layers:
            data = io.BytesIO(self._read(self._blob_path(layer.digest)))
            with tarfile.open(fileobj=data, mode="r:*") as archive:
                for member in archive:
                    path = PurePosixPath(member.name.removeprefix("./"))
                    if path.name.startswith(WHITEOUT):
                        gone = str(path.parent / path.name.removeprefix(WHITEOUT))
                        merged = {
                            p: c
                            for p, c in merged.items()
                            if p != gone and not p.startswith(f"{gone}/")
                        }
                    elif member.isfile():
                        content = archive.extractfile(member)
                        merged[str(path)] = content.read() if content else b""
                    elif member.issym():
                        merged[str(path)] = None
        return merged

    def size(self) -> int:
        """Bytes of the layers as a registry stores them (compressed)."""
        return sum(layer.size for layer in self.layers)
