"""Artifacts, cache and ``hash()``: real folders in ``tmp_path``, real threads, no timing."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation.local_runner import storage
from codomyrmex.ci_cd_automation.local_runner.storage import (
    CacheStore,
    collect,
    entry_name,
    hash_files,
    restore,
    unmatched,
)
from codomyrmex.ci_cd_automation.local_runner.workspace import clone_file

# Upper bound for a thread to finish, a guard against hangs and never a speed assertion.
GUARD = 60.0


def write(path: Path, text: str, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def listing(root: Path) -> dict[str, str]:
    """Every file and symlink below ``root``: its text, or ``-> target`` for a symlink."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = path.read_text()
    return found


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A job workspace after a build, with a secret outside it that links point to."""
    root = tmp_path / "ws"
    write(root / "dist/app.whl", "wheel\n")
    write(root / "dist/docs/index.html", "<html>\n")
    (root / "dist/empty").mkdir(parents=True)
    write(root / "dist/run.sh", "#!/bin/sh\n", 0o755)
    write(root / "a.txt", "a\n")
    write(root / "b.txt", "b\n")
    write(root / "ab.md", "ab\n")
    write(root / ".hidden.txt", "hidden\n")
    write(root / "pkg/sub/lib.whl", "lib\n")
    write(root / "pkg/x1.py", "x1\n")
    write(root / "pkg/y2.py", "y2\n")
    write(tmp_path / "secret/key", "do not copy\n")
    (root / "leak").symlink_to(tmp_path / "secret")
    (root / "dist/latest").symlink_to("app.whl")
    return root


def test_collect_a_file_a_folder_and_globs(ws: Path, tmp_path: Path) -> None:
    dest = tmp_path / "artifacts/build"

    copied = collect(ws, ["a.txt", "dist/", "**/*.whl", "pkg/[xz]?.py", "*.txt"], dest)

    assert copied == [
        ".hidden.txt",
        "a.txt",
        "b.txt",
        "dist/app.whl",
        "dist/docs/index.html",
        "dist/latest",
        "dist/run.sh",
        "pkg/sub/lib.whl",
        "pkg/x1.py",
    ]
    assert listing(dest)["dist/latest"] == "-> app.whl"
    assert (dest / "dist/empty").is_dir()
    assert stat.S_IMODE(os.stat(dest / "dist/run.sh").st_mode) == 0o755
    assert os.stat(dest / "a.txt").st_ino != os.stat(ws / "a.txt").st_ino


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", ["a.txt", "ab.md", "b.txt"]),  # top-level names; folders bring their trees
        ("?.txt", ["a.txt", "b.txt"]),
        ("[!a]*.txt", [".hidden.txt", "b.txt"]),
        ("pkg/*", ["pkg/sub/lib.whl", "pkg/x1.py", "pkg/y2.py"]),
        ("**/lib.whl", ["pkg/sub/lib.whl"]),
        ("pkg/**/*.py", ["pkg/x1.py", "pkg/y2.py"]),
        ("dist/**", ["dist/app.whl", "dist/docs/index.html", "dist/latest", "dist/run.sh"]),
        ("./pkg//sub/", ["pkg/sub/lib.whl"]),
        ("*/*.py", ["pkg/x1.py", "pkg/y2.py"]),
        ("pkg/sub/lib.whl", ["pkg/sub/lib.whl"]),
    ],
)
def test_glob_semantics(ws: Path, tmp_path: Path, pattern: str, expected: list[str]) -> None:
    copied = collect(ws, [pattern], tmp_path / "out")

    if pattern == "*":
        assert set(expected) <= set(copied)
        assert "dist/app.whl" in copied
        assert "leak" in copied
    else:
        assert copied == expected


def test_symlinks_are_copied_never_followed(ws: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"

    copied = collect(ws, ["leak", "leak/key", "leak/*", "**/key"], dest)

    assert copied == ["leak"]
    assert listing(dest) == {"leak": f"-> {tmp_path / 'secret'}"}
    assert unmatched(ws, ["leak", "leak/key", "leak/*", "**/key"]) == [
        "leak/key",
        "leak/*",
        "**/key",
    ]


def test_unmatched_names_patterns_that_select_nothing_in_order(ws: Path) -> None:
    assert unmatched(ws, ["nothing/", "a.txt", "*.zip", "dist/empty", "**/*.whl", "x?"]) == [
        "nothing/",
        "*.zip",
        "x?",
    ]


@pytest.mark.parametrize(
    "pattern", ["../ws2/x", "/etc/passwd", "~/.ssh", "dist/../../x", "", "a/[z-a]"]
)
def test_collect_refuses_patterns_leaving_the_workspace(
    ws: Path, tmp_path: Path, pattern: str
) -> None:
    with pytest.raises(ValueError) as caught:
        collect(ws, ["a.txt", pattern], tmp_path / "out")

    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("artifact path")
    assert not (tmp_path / "out").exists()


def test_collect_into_a_used_folder_overwrites(ws: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    collect(ws, ["a.txt"], dest)
    write(ws / "a.txt", "rebuilt\n")

    assert collect(ws, ["a.txt", "b.txt"], dest) == ["a.txt", "b.txt"]
    assert listing(dest) == {"a.txt": "rebuilt\n", "b.txt": "b\n"}


def test_restore_lays_the_tree_over_the_workspace(ws: Path, tmp_path: Path) -> None:
    saved = tmp_path / "artifacts/build"
    collect(ws, ["dist", "a.txt"], saved)
    job = tmp_path / "job"
    write(job / "a.txt", "old\n")
    write(job / "dist", "a file where the tree has a folder\n")
    write(job / "other.txt", "kept\n")

    written = restore(saved, job)

    assert written == [
        "a.txt",
        "dist/app.whl",
        "dist/docs/index.html",
        "dist/latest",
        "dist/run.sh",
    ]
    assert listing(job)["a.txt"] == "a\n"
    assert listing(job)["other.txt"] == "kept\n"
    assert (job / "dist/empty").is_dir()
    assert stat.S_IMODE(os.stat(job / "dist/run.sh").st_mode) == 0o755


def test_restore_never_writes_through_a_symlink_in_the_workspace(ws: Path, tmp_path: Path) -> None:
    saved = tmp_path / "artifacts/build"
    collect(ws, ["dist/app.whl", "a.txt"], saved)
    outside = tmp_path / "outside"
    write(outside / "app.whl", "must stay\n")
    write(outside / "target.txt", "must stay too\n")
    job = tmp_path / "job"
    job.mkdir()
    (job / "dist").symlink_to(outside)
    (job / "a.txt").symlink_to(outside / "target.txt")

    restore(saved, job)

    assert listing(outside) == {"app.whl": "must stay\n", "target.txt": "must stay too\n"}
    assert not (job / "dist").is_symlink()
    assert listing(job) == {"a.txt": "a\n", "dist/app.whl": "wheel\n"}


def test_restore_of_nothing_is_nothing(tmp_path: Path) -> None:
    assert restore(tmp_path / "no-artifacts", tmp_path / "job") == []
    assert not (tmp_path / "job").exists()


def test_hash_files_is_sha256_of_file_digests_in_path_order(ws: Path) -> None:
    expected = hashlib.sha256(
        hashlib.sha256(b"x1\n").digest() + hashlib.sha256(b"y2\n").digest()
    ).hexdigest()

    assert hash_files(ws, ["pkg/*.py"]) == expected
    assert hash_files(ws, ["pkg/y2.py", "pkg/x1.py"]) == expected
    assert hash_files(ws, ["**/*.py", "pkg/x1.py"]) == expected


def test_hash_files_is_stable_and_sees_content_changes(ws: Path, tmp_path: Path) -> None:
    before = hash_files(ws, ["**/*.whl", "*.txt"])
    copy = tmp_path / "copy"
    collect(ws, ["**"], copy)

    assert hash_files(ws, ["**/*.whl", "*.txt"]) == before
    assert hash_files(copy, ["**/*.whl", "*.txt"]) == before
    write(ws / "pkg/sub/lib.whl", "lib 2\n")
    assert hash_files(ws, ["**/*.whl", "*.txt"]) != before


def test_hash_files_ignores_names_and_symlinks(ws: Path) -> None:
    before = hash_files(ws, ["pkg/**"])
    (ws / "pkg/x1.py").rename(ws / "pkg/x0.py")  # same place in the sorted order
    (ws / "pkg/link.py").symlink_to("y2.py")

    assert hash_files(ws, ["pkg/**"]) == before


def test_hash_files_exclusions_apply_in_order(ws: Path) -> None:
    only_x1 = hash_files(ws, ["pkg/x1.py"])

    assert hash_files(ws, ["pkg", "!pkg/sub", "!pkg/y2.py"]) == only_x1
    assert hash_files(ws, ["pkg/*.py", "!pkg/*", "pkg/x1.py"]) == only_x1
    assert hash_files(ws, ["!pkg/x1.py", "pkg/x1.py"]) == only_x1


def test_hash_files_of_nothing_is_empty(ws: Path) -> None:
    assert hash_files(ws, ["*.lock"]) == ""
    assert hash_files(ws, ["leak/key"]) == ""
    assert hash_files(ws, ["dist/empty"]) == ""
    with pytest.raises(ValueError, match=r'^hash\(\) pattern "\.\./x" leaves the workspace'):
        hash_files(ws, ["../x"])


def test_cache_exact_restore_in_a_fresh_workspace(ws: Path, tmp_path: Path) -> None:
    cache = CacheStore(tmp_path / "project/.cicd/cache")

    assert cache.save("deps-1", ["pkg", "dist/run.sh"], ws)
    job = tmp_path / "job"
    write(job / "pkg/x1.py", "stale\n")

    assert cache.restore("deps-1", [], ["pkg", "dist/run.sh"], job) == "deps-1"
    assert listing(job) == {
        "dist/run.sh": "#!/bin/sh\n",
        "pkg/sub/lib.whl": "lib\n",
        "pkg/x1.py": "x1\n",
        "pkg/y2.py": "y2\n",
    }
    assert stat.S_IMODE(os.stat(job / "dist/run.sh").st_mode) == 0o755


def test_cache_miss_leaves_everything_alone(ws: Path, tmp_path: Path) -> None:
    cache = CacheStore(tmp_path / "cache")
    job = tmp_path / "job"
    job.mkdir()

    assert cache.restore("deps-1", ["deps-"], ["pkg"], job) is None
    assert not (tmp_path / "cache").exists()
    cache.save("other-1", ["pkg"], ws)
    assert cache.restore("deps-1", ["deps-", "dep-"], ["pkg"], job) is None
    assert list(job.iterdir()) == []


def test_cache_restore_keys_pick_the_newest_prefix_match_in_key_order(
    ws: Path, tmp_path: Path
) -> None:
    cache = CacheStore(tmp_path / "cache")
    for key in ("deps-linux-aaa", "deps-linux-bbb", "deps-mac-ccc"):
        write(ws / "marker.txt", key)
        assert cache.save(key, ["marker.txt"], ws)

    def restored(key: str, restore_keys: list[str]) -> tuple[str | None, str]:
        job = tmp_path / f"job-{key}-{'-'.join(restore_keys)}"
        job.mkdir()
        found = cache.restore(key, restore_keys, ["marker.txt"], job)
        text = (job / "marker.txt").read_text() if found else ""
        return found, text

    assert restored("deps-linux-aaa", ["deps-"]) == ("deps-linux-aaa", "deps-linux-aaa")
    assert restored("deps-linux-zzz", ["deps-linux-"]) == ("deps-linux-bbb", "deps-linux-bbb")
    assert restored("deps-linux-zzz", ["deps-"]) == ("deps-mac-ccc", "deps-mac-ccc")
    assert restored("x", ["deps-linux-", "deps-"]) == ("deps-linux-bbb", "deps-linux-bbb")
    assert restored("x", ["none-", "deps-mac"]) == ("deps-mac-ccc", "deps-mac-ccc")


def test_cache_save_of_nothing_returns_false_and_keeps_the_entry(ws: Path, tmp_path: Path) -> None:
    cache = CacheStore(tmp_path / "cache")
    cache.save("k", ["a.txt"], ws)

    assert not cache.save("k", ["missing/", "*.zip"], ws)
    assert not CacheStore(tmp_path / "other").save("k", ["missing"], ws)
    assert not (tmp_path / "other").exists()
    job = tmp_path / "job"
    assert cache.restore("k", [], ["a.txt"], job) == "k"
    assert listing(job) == {"a.txt": "a\n"}


def test_cache_save_replaces_the_whole_entry(ws: Path, tmp_path: Path) -> None:
    cache = CacheStore(tmp_path / "cache")
    cache.save("k", ["a.txt", "b.txt"], ws)
    write(ws / "a.txt", "a 2\n")

    assert cache.save("k", ["a.txt"], ws)
    job = tmp_path / "job"
    cache.restore("k", [], ["a.txt"], job)
    assert listing(job) == {"a.txt": "a 2\n"}
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name != ".locks"] == [
        entry_name("k")
    ]


def test_a_failed_save_leaves_the_old_entry_and_no_debris(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = CacheStore(tmp_path / "cache")
    cache.save("k", ["a.txt"], ws)
    calls = [0]
    real = clone_file

    def failing(src: str, dst: str, mode: int, devices: tuple[int, int]) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise OSError(28, "No space left on device")
        real(src, dst, mode, devices)

    monkeypatch.setattr(storage, "clone_file", failing)
    write(ws / "a.txt", "a 2\n")

    with pytest.raises(OSError, match="No space"):
        cache.save("k", ["a.txt", "b.txt"], ws)

    monkeypatch.undo()
    job = tmp_path / "job"
    assert cache.restore("k", [], ["a.txt"], job) == "k"
    assert listing(job) == {"a.txt": "a\n"}
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".locks", entry_name("k")]


@pytest.mark.parametrize("path", ["~/.cache/pip", "/root/.cache", "../shared", "a/../../b"])
def test_cache_paths_must_stay_in_the_workspace(ws: Path, tmp_path: Path, path: str) -> None:
    cache = CacheStore(tmp_path / "cache")

    with pytest.raises(ValueError, match=r"^cache path ") as caught:
        cache.save("k", ["pkg", path], ws)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match=r"^cache path "):
        cache.restore("k", [], [path], ws)
    assert not (tmp_path / "cache").exists()


WEIRD_KEYS = [
    "a/b c",
    "a_b_c",
    "a b/c",
    "..",
    ".",
    "-",
    "ключ-ümlaut",
    "x" * 500,
    "x" * 499 + "y",
    "${{ hash('x') }}\n\t*?",
]


def test_weird_keys_get_distinct_safe_folders(ws: Path, tmp_path: Path) -> None:
    names = {entry_name(key) for key in WEIRD_KEYS}

    assert len(names) == len(WEIRD_KEYS)
    for name in names:
        assert "/" not in name
        assert not name.startswith(".")
        assert len(name) <= 70
    assert entry_name("pip cache/linux").startswith("pip_cache_linux-")
    with pytest.raises(ValueError, match="cache key is empty"):
        entry_name("")


def test_weird_keys_round_trip_and_match_by_real_prefix(ws: Path, tmp_path: Path) -> None:
    cache = CacheStore(tmp_path / "cache")
    for index, key in enumerate(WEIRD_KEYS):
        write(ws / "marker.txt", str(index))
        assert cache.save(key, ["marker.txt"], ws)

    for index, key in enumerate(WEIRD_KEYS):
        job = tmp_path / f"job{index}"
        assert cache.restore(key, [], ["marker.txt"], job) == key
        assert (job / "marker.txt").read_text() == str(index)
    job = tmp_path / "prefix"
    assert cache.restore("nope", ["a b/"], ["marker.txt"], job) == "a b/c"
    assert (job / "marker.txt").read_text() == "2"


def run_threads(*targets: threading.Thread) -> None:
    for thread in targets:
        thread.start()
    for thread in targets:
        thread.join(GUARD)
        assert not thread.is_alive()


def test_two_threads_saving_one_key_leave_one_whole_entry(tmp_path: Path) -> None:
    cache = CacheStore(tmp_path / "cache")
    sides = {}
    for side in ("a", "b"):
        root = tmp_path / side
        for n in range(20):
            write(root / f"deps/file{n}.txt", f"{side}{n}\n" * 200)
        write(root / f"deps/only-{side}", side)
        sides[side] = root
    start = threading.Barrier(3)
    errors: list[BaseException] = []
    seen: list[dict[str, str]] = []

    def saver(root: Path) -> None:
        try:
            start.wait(GUARD)
            for _ in range(15):
                assert cache.save("deps", ["deps"], root)
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait(GUARD)
            for n in range(30):
                job = tmp_path / f"reader/{n}"
                if cache.restore("deps", [], ["deps"], job) is not None:
                    seen.append(listing(job))
        except BaseException as exc:
            errors.append(exc)

    run_threads(
        threading.Thread(target=saver, args=(sides["a"],)),
        threading.Thread(target=saver, args=(sides["b"],)),
        threading.Thread(target=reader),
    )

    assert errors == []
    final = tmp_path / "final"
    assert cache.restore("deps", [], ["deps"], final) == "deps"
    for tree in [*seen, listing(final)]:
        side = "a" if "deps/only-a" in tree else "b"
        assert tree == listing(sides[side]), "a restore mixed two saves"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        ".locks",
        entry_name("deps"),
    ]


def test_one_string_instead_of_a_list_is_refused(ws: Path, tmp_path: Path) -> None:
    cache = CacheStore(tmp_path / "cache")

    with pytest.raises(TypeError, match="not one string"):
        collect(ws, "dist", tmp_path / "out")
    with pytest.raises(TypeError, match="not one string"):
        hash_files(ws, "*.txt")
    with pytest.raises(TypeError, match="not one string"):
        cache.save("k", "dist", ws)
    with pytest.raises(TypeError, match="not one string"):
        cache.restore("k", "k-", ["dist"], ws)


def test_a_missing_workspace_selects_nothing(tmp_path: Path) -> None:
    gone = tmp_path / "gone"

    assert collect(gone, ["a.txt", "**/*.whl"], tmp_path / "out") == []
    assert unmatched(gone, ["a.txt", "**/*.whl"]) == ["a.txt", "**/*.whl"]
    assert hash_files(gone, ["**"]) == ""
    assert not CacheStore(tmp_path / "cache").save("k", ["**"], gone)
