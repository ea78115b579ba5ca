"""The repository stands alone: no test, benchmark, script or source file
refers to the team's shared directory (fixtures are copied into the repo,
benchmarks take data paths as arguments). Needs no cluster."""

import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECKED = ("tests", "benches", "scripts", "src", "crates", "tools")
# spelled in pieces so that this file does not match itself
FORBIDDEN = ("../" + "shared", "/work/" + "shared")
SKIP_DIRS = {"target", "node_modules", ".git", "__pycache__"}


def repo_files():
    """Tracked and untracked-but-not-ignored files (what a commit would
    hold), or every file outside build directories without git."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *CHECKED],
                             capture_output=True, check=True)
        return [p for p in out.stdout.decode().split("\0") if p and os.path.isfile(os.path.join(ROOT, p))]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for top in CHECKED:
            for d, dirs, names in os.walk(os.path.join(ROOT, top)):
                dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
                files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
        return files


def test_no_file_refers_to_the_shared_directory():
    files = repo_files()
    assert any(f.startswith("tests/") for f in files), "the file list is not empty"
    offenders = []
    for path in files:
        with open(os.path.join(ROOT, path), "rb") as f:
            data = f.read()
        for lineno, line in enumerate(data.split(b"\n"), 1):
            if any(s.encode() in line for s in FORBIDDEN):
                offenders.append(f"{path}:{lineno}: {line.decode(errors='replace').strip()[:120]}")
    print("\n".join(offenders))
    assert not offenders, f"{len(offenders)} lines refer to the shared directory:\n" + "\n".join(offenders)
