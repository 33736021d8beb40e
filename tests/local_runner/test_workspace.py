"""Job workspaces: real git repositories and files in ``tmp_path``, no assertion on elapsed time."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import subprocess
from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation.errors import PipelineExecutionError
from codomyrmex.ci_cd_automation.local_runner import workspace
from codomyrmex.ci_cd_automation.local_runner.workspace import (
    Snapshot,
    clone_file,
    tracked_files,
)
from testing.repos import Executable, Link, git, make_repo


@pytest.fixture(autouse=True)
def _no_outer_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git must not find a repository above ``tmp_path`` whatever the machine's layout."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))


def write(path: Path, text: str, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def mixed_repo(root: Path) -> Path:
    """A repository with committed, staged, modified, deleted, ignored and untracked files."""
    return make_repo(
        root,
        files={
            "a.txt": "a\n",
            "sub/b.txt": "b\n",
            "sub/deep/c.txt": "c\n",
            "run.sh": Executable("#!/bin/sh\necho hi\n"),
            "gone.txt": "soon deleted\n",
            ".gitignore": "*.log\n",
            ".cicd/tracked-by-mistake": "x\n",
            "link": Link("a.txt"),
            "dirlink": Link("sub"),
            "dangling": Link("nowhere"),
        },
        force=[".cicd/tracked-by-mistake"],
        then={
            "gone.txt": None,
            "a.txt": "a, edited but not committed\n",
            "staged.txt": "staged\n",
            "build.log": "ignored\n",
            "untracked.txt": "untracked\n",
            ".cicd/runs/1/job.log": "runner state\n",
        },
        stage=["staged.txt"],
    )


TRACKED = [
    ".gitignore",
    "a.txt",
    "dangling",
    "dirlink",
    "link",
    "run.sh",
    "staged.txt",
    "sub/b.txt",
    "sub/deep/c.txt",
]


def test_git_lists_tracked_files_present_in_the_working_tree(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")

    assert tracked_files(repo) == TRACKED


def test_git_limits_to_project_dir_with_paths_relative_to_it(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")

    assert tracked_files(repo / "sub") == ["b.txt", "deep/c.txt"]


def test_git_leaves_out_submodules(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},vendor/lib")
    (repo / "vendor/lib").mkdir(parents=True)
    write(repo / "vendor/lib/inner.txt", "belongs to the submodule\n")

    assert tracked_files(repo) == TRACKED


def test_git_leaves_out_files_beyond_a_symlink_and_files_turned_into_folders(
    tmp_path: Path,
) -> None:
    repo = mixed_repo(tmp_path / "repo")
    outside = tmp_path / "outside"
    write(outside / "deep/c.txt", "outside the repository\n")
    (repo / "sub/deep/c.txt").unlink()
    (repo / "sub/deep").rmdir()
    (repo / "sub/deep").symlink_to(outside / "deep")
    (repo / "staged.txt").unlink()
    write(repo / "staged.txt/inner.txt", "now a folder\n")

    assert tracked_files(repo) == [p for p in TRACKED if p not in ("sub/deep/c.txt", "staged.txt")]


def test_outside_git_every_file_but_git_and_runner_folders(tmp_path: Path) -> None:
    project = tmp_path / "plain"
    write(project / "a.txt", "a\n")
    write(project / "sub/b.txt", "b\n")
    write(project / ".git/config", "not a repository\n")
    write(project / "nested/.git/HEAD", "x\n")
    write(project / "nested/kept.txt", "kept\n")
    write(project / ".cicd/cache/x", "runner state\n")
    write(project / "sub/.cicd/y", "only the top one is the runner's\n")
    (project / "empty").mkdir()
    (project / "link").symlink_to("sub")
    os.mkfifo(project / "fifo")

    assert tracked_files(project) == [
        "a.txt",
        "link",
        "nested/kept.txt",
        "sub/.cicd/y",
        "sub/b.txt",
    ]


def test_without_git_installed_every_file_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = mixed_repo(tmp_path / "repo")
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    listed = tracked_files(repo)

    assert "untracked.txt" in listed
    assert "build.log" in listed
    assert not [p for p in listed if p.startswith((".git/", ".cicd/"))]


def test_a_failing_git_is_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "tools"
    write(tools / "git", "#!/bin/sh\necho 'fatal: detected dubious ownership' >&2\nexit 128\n")
    (tools / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    project = tmp_path / "project"
    project.mkdir()

    with pytest.raises(PipelineExecutionError) as caught:
        tracked_files(project)

    assert str(caught.value) == (
        f'git ls-files failed in "{project}": fatal: detected dubious ownership'
    )


def test_snapshot_copies_tracked_files_as_they_are_now(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")

    snap = Snapshot.take(repo, tmp_path / "run/snapshot")

    assert tuple(f for f in snap.files if not f.startswith(".git/")) == tuple(TRACKED)
    assert snap.root == tmp_path / "run/snapshot"
    assert (snap.root / "a.txt").read_text() == "a, edited but not committed\n"
    assert not (snap.root / "untracked.txt").exists()
    assert not (snap.root / "build.log").exists()
    assert not (snap.root / ".cicd").exists()


def test_snapshot_has_its_own_shallow_git_without_a_way_back(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")
    git(repo, "commit", "-q", "-m", "second")
    head = git(repo, "rev-parse", "HEAD").strip()
    snap = Snapshot.take(repo, tmp_path / "snapshot")
    job = tmp_path / "jobs/build"
    snap.clone_into(job)

    assert not os.path.samefile(job / ".git", repo / ".git")
    assert git(job, "rev-parse", "HEAD").strip() == head
    assert git(job, "rev-list", "--count", "HEAD").strip() == "1"  # shallow, like checkout
    assert git(job, "remote").strip() == ""  # no way to push back into the user's repo
    assert " M a.txt" in git(job, "status", "--short").splitlines()  # uncommitted edit shows
    git(job, "commit", "-q", "-am", "made in the job")
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert "made in the job" not in git(repo, "log", "--all", "--oneline")


def test_snapshot_of_a_folder_inside_a_repository_or_outside_git_has_no_git(
    tmp_path: Path,
) -> None:
    repo = mixed_repo(tmp_path / "repo")
    inside = Snapshot.take(repo / "sub", tmp_path / "inside")
    plain = tmp_path / "plain"
    write(plain / "x.txt", "x\n")
    outside = Snapshot.take(plain, tmp_path / "outside")

    assert not (inside.root / ".git").exists()
    assert not (outside.root / ".git").exists()
    assert outside.files == ("x.txt",)


def test_snapshot_keeps_modes_and_symlinks_through_clones(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")
    write(repo / "readonly.txt", "r\n", 0o444)
    git(repo, "add", "readonly.txt")
    snap = Snapshot.take(repo, tmp_path / "snapshot")
    job = tmp_path / "jobs/build"

    snap.clone_into(job)

    for root in (snap.root, job):
        assert stat.S_IMODE(os.lstat(root / "run.sh").st_mode) == 0o755
        assert stat.S_IMODE(os.lstat(root / "readonly.txt").st_mode) == 0o444
        assert stat.S_IMODE(os.lstat(root / "a.txt").st_mode) == 0o644
        assert os.readlink(root / "link") == "a.txt"
        assert os.readlink(root / "dirlink") == "sub"
        assert os.readlink(root / "dangling") == "nowhere"
        assert (root / "dirlink").is_symlink()
    ran = subprocess.run([str(job / "run.sh")], capture_output=True, text=True, check=True)
    assert ran.stdout == "hi\n"
    assert sorted(
        str(p.relative_to(job))
        for p in job.rglob("*")
        if (p.is_file() or p.is_symlink()) and ".git" not in p.relative_to(job).parts
    ) == sorted([*TRACKED, "readonly.txt"])


def test_a_job_editing_its_workspace_changes_nothing_else(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")
    snap = Snapshot.take(repo, tmp_path / "snapshot")
    first, second = tmp_path / "jobs/first", tmp_path / "jobs/second"
    snap.clone_into(first)
    snap.clone_into(second)

    subprocess.run(
        "echo changed > a.txt && echo more >> sub/b.txt && rm sub/deep/c.txt && touch new.txt",
        shell=True,
        cwd=first,
        check=True,
    )

    for root in (repo, snap.root, second):
        assert (root / "a.txt").read_text() == "a, edited but not committed\n"
        assert (root / "sub/b.txt").read_text() == "b\n"
        assert (root / "sub/deep/c.txt").read_text() == "c\n"
        assert not (root / "new.txt").exists()
    for rel in ("a.txt", "sub/b.txt", "run.sh"):
        inodes = {os.stat(root / rel).st_ino for root in (repo, snap.root, second)}
        assert len(inodes) == 3, rel
        assert os.stat(second / rel).st_nlink == 1


def test_the_snapshot_ignores_later_edits_of_the_checkout(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")
    snap = Snapshot.take(repo, tmp_path / "snapshot")

    write(repo / "a.txt", "edited during the run\n")
    snap.clone_into(tmp_path / "job")

    assert (tmp_path / "job/a.txt").read_text() == "a, edited but not committed\n"


def test_take_refuses_an_existing_destination(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")
    (tmp_path / "snapshot").mkdir()

    with pytest.raises(FileExistsError):
        Snapshot.take(repo, tmp_path / "snapshot")


def test_clone_into_accepts_an_empty_folder_and_refuses_a_used_one(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")
    snap = Snapshot.take(repo, tmp_path / "snapshot")
    (tmp_path / "empty").mkdir()
    write(tmp_path / "used/left-over.txt", "x\n")

    snap.clone_into(tmp_path / "empty")

    assert (tmp_path / "empty/sub/deep/c.txt").read_text() == "c\n"
    with pytest.raises(FileExistsError, match="not empty"):
        snap.clone_into(tmp_path / "used")


def test_a_snapshot_folder_can_be_described_again(tmp_path: Path) -> None:
    repo = mixed_repo(tmp_path / "repo")
    taken = Snapshot.take(repo, tmp_path / "snapshot")

    again = Snapshot(taken.root, list(taken.files))
    again.clone_into(tmp_path / "job")

    assert again.files == taken.files
    assert os.readlink(tmp_path / "job/link") == "a.txt"


def test_an_empty_project_gives_an_empty_workspace(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    snap = Snapshot.take(tmp_path / "empty", tmp_path / "snapshot")
    snap.clone_into(tmp_path / "job")

    assert snap.files == ()
    assert list((tmp_path / "job").iterdir()) == []


@pytest.mark.parametrize("failing", ["none", "reflink", "reflink+copy_file_range"])
def test_clone_file_falls_back_and_remembers_unsupported_methods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    monkeypatch.setattr(workspace, "_NO_REFLINK", set())
    monkeypatch.setattr(workspace, "_NO_COPY_RANGE", set())
    calls = {"ioctl": 0, "copy_file_range": 0}
    real_ioctl, real_range = fcntl.ioctl, os.copy_file_range

    def ioctl(fd: int, request: int, arg: int) -> object:
        calls["ioctl"] += 1
        if "reflink" in failing:
            raise OSError(errno.EOPNOTSUPP, "not supported")
        return real_ioctl(fd, request, arg)

    def copy_range(src: int, dst: int, count: int) -> int:
        calls["copy_file_range"] += 1
        if "copy_file_range" in failing:
            raise OSError(errno.EXDEV, "cross-device")
        return real_range(src, dst, count)

    monkeypatch.setattr(fcntl, "ioctl", ioctl)
    monkeypatch.setattr(os, "copy_file_range", copy_range)
    data = os.urandom(3 << 20)
    (tmp_path / "src").write_bytes(data)

    for name in ("one", "two", "three"):
        clone_file(str(tmp_path / "src"), str(tmp_path / name), 0o750, (1, 2))
        assert (tmp_path / name).read_bytes() == data
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o750

    no_reflink, no_copy_range = workspace._NO_REFLINK, workspace._NO_COPY_RANGE
    if failing == "none":
        # Real FICLONE: works every time (Btrfs, XFS) or fails once and is remembered (ext4).
        assert calls["ioctl"] == (1 if no_reflink else 3)
    else:
        assert calls["ioctl"] == 1
        assert no_reflink == {(1, 2)}
    if failing == "reflink+copy_file_range":
        assert calls["copy_file_range"] == 1
        assert no_copy_range == {(1, 2)}


def test_clone_file_never_overwrites(tmp_path: Path) -> None:
    write(tmp_path / "src", "new\n")
    write(tmp_path / "dst", "old\n")

    with pytest.raises(FileExistsError):
        clone_file(str(tmp_path / "src"), str(tmp_path / "dst"), 0o644, (0, 0))

    assert (tmp_path / "dst").read_text() == "old\n"
