#!/usr/bin/env python3
"""Writes a one-layer image as a docker-archive tar (what `ctr images import` takes) from pieces
of this machine: programs with the shared libraries they load, directory trees, files and
directories with their owners. No base image is needed, since no registry is reachable.

The archive is reproducible: entries are sorted, times are zero, owners are numeric, so the
same inputs give the same image digest.

    build_image.py SPEC.json OUT.tar

SPEC: {"name": "repo:tag", "user": "1000", "env": ["K=V"], "workdir": "/",
       "programs": ["/bin/bash", ...],       # copied with their ldd closure
       "trees": [["/usr/lib/jvm/x", "/usr/lib/jvm/x"], ...],   # symlinks followed
       "files": [["src", "/dest", "0755"], ...],
       "symlinks": [["target", "/link"], ...],
       "dirs": [["/data", 1000, 1000, "0755"], ...],
       "text": [["/etc/passwd", "contents", "0644"], ...]}
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

# Debian merges /bin, /lib, /lib64 and /sbin into /usr: the image does the same, so that paths
# taken from this machine (an ELF interpreter, ldd's answers) resolve inside it.
MERGED = {"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64", "sbin": "usr/sbin"}


def canonical(path):
    """The path inside the image, with the merged directories spelled out."""
    parts = path.lstrip("/").split("/", 1)
    if parts[0] in MERGED:
        return MERGED[parts[0]] + ("/" + parts[1] if len(parts) > 1 else "")
    return path.lstrip("/")


def library_closure(programs):
    """Every shared library the programs load, and the loader, as absolute host paths."""
    needed = set()
    for program in programs:
        out = subprocess.run(["ldd", program], capture_output=True, text=True).stdout
        for line in out.splitlines():
            words = line.split()
            if "=>" in words and len(words) > words.index("=>") + 1:
                target = words[words.index("=>") + 1]
                if target.startswith("/"):
                    needed.add(target)
            elif words and words[0].startswith("/"):
                needed.add(words[0])
    return sorted(needed)


class Layer:
    def __init__(self):
        self.entries = {}

    def _parents(self, path):
        parent = os.path.dirname(path)
        while parent and parent not in self.entries:
            self.entries[parent] = ("dir", 0, 0, 0o755, None)
            parent = os.path.dirname(parent)

    def dir(self, path, uid=0, gid=0, mode=0o755):
        path = canonical(path)
        self._parents(path)
        self.entries[path] = ("dir", uid, gid, mode, None)

    def data(self, path, data, mode=0o644):
        path = canonical(path)
        self._parents(path)
        self.entries[path] = ("file", 0, 0, mode, data)

    def copy(self, src, dest, mode=None):
        with open(src, "rb") as f:
            data = f.read()
        self.data(dest, data, mode if mode is not None else os.stat(src).st_mode & 0o7777)

    def symlink(self, target, link):
        link = canonical(link)
        self._parents(link)
        self.entries[link] = ("symlink", 0, 0, 0o777, target)

    def tree(self, src, dest):
        for root, dirs, files in os.walk(src, followlinks=True):
            rel = os.path.relpath(root, src)
            base = dest if rel == "." else os.path.join(dest, rel)
            self.dir(base, mode=os.stat(root).st_mode & 0o7777)
            for name in files:
                path = os.path.join(root, name)
                if os.path.exists(path):  # a dangling link (docs, sources) is left out
                    self.copy(path, os.path.join(base, name))

    def tar(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                kind, uid, gid, mode, payload = self.entries[path]
                info = tarfile.TarInfo(path)
                info.uid, info.gid, info.mode, info.mtime = uid, gid, mode, 0
                info.uname = info.gname = ""
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif kind == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.linkname = payload
                    tar.addfile(info)
                else:
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
        return buf.getvalue()


def main(spec_path, out_path):
    with open(spec_path) as f:
        spec = json.load(f)
    layer = Layer()
    for link, target in MERGED.items():
        layer.dir(target)
        layer.entries[link] = ("symlink", 0, 0, 0o777, target)
    programs = spec.get("programs", [])
    for program in programs:
        layer.copy(os.path.realpath(program), program)
    for library in library_closure(programs + spec.get("libraries_of", [])):
        layer.copy(os.path.realpath(library), library)
    for src, dest in spec.get("trees", []):
        layer.tree(src, dest)
    for src, dest, mode in spec.get("files", []):
        layer.copy(src, dest, int(mode, 8))
    for path, contents, mode in spec.get("text", []):
        layer.data(path, contents.encode(), int(mode, 8))
    for target, link in spec.get("symlinks", []):
        layer.symlink(target, link)
    for path, uid, gid, mode in spec.get("dirs", []):
        layer.dir(path, uid, gid, int(mode, 8))

    layer_tar = layer.tar()
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    machine = os.uname().machine
    config = {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine),
        "os": "linux",
        "config": {
            "User": spec.get("user", "0"),
            "Env": spec.get("env", []),
            "WorkingDir": spec.get("workdir", "/"),
            "Cmd": spec.get("cmd"),
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "scripts/lib/build_image.py " + os.path.basename(spec_path)}],
    }
    config_json = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_json).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [spec["name"]], "Layers": ["layer.tar"]}]).encode()
    with tarfile.open(out_path, "w", format=tarfile.PAX_FORMAT) as out:
        for name, data in [(config_name, config_json), ("layer.tar", layer_tar), ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            out.addfile(info, io.BytesIO(data))
    print(f"{spec['name']}: {len(layer.entries)} entries, {len(layer_tar) >> 20} MiB, config {config_name[:19]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
