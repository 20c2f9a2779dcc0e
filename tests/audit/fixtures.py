"""Builders for the local git repositories and archives the audit tests run against."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

AWS_ACCESS_KEY = "AKIAZ3MHQ7RBXK4TLP2W"
AWS_SECRET_KEY = "q8Jx2VnR5tLm9WcY3bKp7HdF1sZg6NaE4uTi0oQv"

ALICE = ("Alice Martin", "alice@example.org")
BOB = ("Bob Okafor", "bob@example.net")

MIT_LICENSE = """MIT License

Copyright (c) 2024 Alice Martin

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

GPL_MODULE = '''# Copyright (C) 2023 Bob Okafor
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.
"""Checksum helpers."""


def adler32(data: bytes) -> int:
    a, b = 1, 0
    for byte in data:
        a = (a + byte) % 65521
        b = (b + a) % 65521
    return (b << 16) | a
'''

SETTINGS = f'''"""Deployment settings (do not do this at home)."""

REGION = "eu-west-1"
AWS_ACCESS_KEY_ID = "{AWS_ACCESS_KEY}"
aws_secret_access_key = "{AWS_SECRET_KEY}"
'''

APP_JS = """'use strict';

const express = require('express');
const leftPad = require('left-pad');

const app = express();
app.get('/', (req, res) => res.send(leftPad('hello', 10)));
app.listen(3000);
"""

MAIN_PY = '''"""Entry point."""

import requests


def main() -> None:
    print(requests.get("https://example.org", timeout=5).status_code)


if __name__ == "__main__":
    main()
'''

REQUIREMENTS = """# runtime
requests==2.31.0
flask>=2.0,<3  # web
-r dev-requirements.txt
numpy
"""

PACKAGE_JSON = {
    "name": "fixture-app",
    "version": "1.0.0",
    "license": "MIT",
    "dependencies": {"express": "^4.18.2", "left-pad": "1.3.0"},
    "devDependencies": {"@types/node": "20.11.5"},
}

GO_MOD = """module example.com/fixture

go 1.21

require github.com/pkg/errors v0.9.1

require (
\tgolang.org/x/text v0.14.0 // indirect
\tgithub.com/google/uuid v1.6.0
)
"""

CARGO_TOML = """[package]
name = "fixture"
version = "0.1.0"

[dependencies]
serde = "1.0"
rand = { version = "=0.8.5", optional = true }

[dev-dependencies]
tempfile = "3"
"""


def git_env(home: Path, author: tuple[str, str] = ALICE, when: str = "2024-01-01T12:00:00+00:00") -> dict[str, str]:
    name, email = author
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": when,
        "LC_ALL": "C",
    }


def git(repo: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def commit(repo: Path, files: dict[str, str | bytes], message: str, author: tuple[str, str], when: str) -> None:
    env = git_env(repo.parent, author, when)
    for rel, content in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    git(repo, "add", "--", *files, env=env)
    git(repo, "commit", "-q", "-m", message, env=env)


def build_fixture_repo(repo: Path) -> Path:
    """A small project with two authors, MIT + GPL code, a committed AWS key and four manifests."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", env=git_env(repo.parent))
    commit(
        repo,
        {"LICENSE": MIT_LICENSE, "src/main.py": MAIN_PY, "requirements.txt": REQUIREMENTS},
        "Initial import",
        ALICE,
        "2024-01-10T09:00:00+00:00",
    )
    commit(
        repo,
        {"src/checksum.py": GPL_MODULE, "config/settings.py": SETTINGS},
        "Add checksum helper and settings",
        BOB,
        "2024-02-02T15:30:00+01:00",
    )
    commit(
        repo,
        {"web/app.js": APP_JS, "package.json": json.dumps(PACKAGE_JSON, indent=2) + "\n"},
        "Add web front",
        ALICE,
        "2024-03-05T10:00:00+00:00",
    )
    commit(
        repo,
        {"go.mod": GO_MOD, "Cargo.toml": CARGO_TOML, "vendor/lib/libfast.so": b"\x7fELF\x02\x01\x01\x00" + bytes(64)},
        "Add Go and Rust manifests",
        BOB,
        "2024-04-01T08:00:00+00:00",
    )
    commit(repo, {"README.md": "# fixture-app\n\nA test fixture.\n"}, "Add README", ALICE, "2024-05-20T17:45:00+00:00")
    return repo


def make_bare_clone(repo: Path, bare: Path) -> Path:
    git(repo.parent, "clone", "-q", "--bare", str(repo), str(bare), env=git_env(repo.parent))
    return bare


def zip_bytes(entries: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16) | 0x20
            zf.writestr(info, target)
    return buffer.getvalue()


def tar_bytes(
    files: dict[str, bytes],
    *,
    symlinks: dict[str, str] | None = None,
    hardlinks: dict[str, str] | None = None,
    devices: list[str] | None = None,
    compressed: bool = True,
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compressed else "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
        for name, target in (hardlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.LNKTYPE
            info.linkname = target
            tf.addfile(info)
        for name in devices or []:
            info = tarfile.TarInfo(name)
            info.type = tarfile.CHRTYPE
            info.devmajor, info.devminor = 1, 3
            tf.addfile(info)
    return buffer.getvalue()
