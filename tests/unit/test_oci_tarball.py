"""tests/support/oci_tarball.py on an image layout written here by the OCI spec's rules:
index.json → manifest → config and gzip layers under blobs/sha256/, applied in order."""

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from tests.support.oci_tarball import OciTarball


def tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def layout(path: Path, layers: list[dict[str, bytes]], config: dict[str, object]) -> None:
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    manifest = {
        "schemaVersion": 2,
        "config": blob(json.dumps(config).encode()),
        "layers": [blob(gzip.compress(tar_of(files))) for files in layers],
    }
    index = {"schemaVersion": 2, "manifests": [blob(json.dumps(manifest).encode())]}
    with tarfile.open(path, "w") as archive:
        for name, data in [("index.json", json.dumps(index).encode())] + [
            (f"blobs/sha256/{d.split(':')[1]}", data) for d, data in blobs.items()
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_layers_apply_in_order_with_whiteouts(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    layout(
        path,
        [
            {"bin/tool": b"v1", "etc/old/a": b"a", "etc/keep": b"k"},
            {"bin/tool": b"v2", "etc/.wh.old": b""},
        ],
        {"config": {"User": "886:886"}},
    )
    image = OciTarball(path)
    assert image.config["config"]["User"] == "886:886"
    assert image.files() == {"bin/tool": b"v2", "etc/keep": b"k"}
    assert len(image.layers) == 2
    assert image.size() == sum(layer.size for layer in image.layers) > 0
