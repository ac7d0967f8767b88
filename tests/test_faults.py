"""Faults on a real local cluster: signals mid-start, lost records and secrets, purging a directory the user shares.

Every test runs the real ``mongoshard`` command against the real mongod and
checks the outcome with an observer mongoshard does not control: the
process table (no process may still name the project directory) and the
files on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from commandline import ROOT, run
from orphans import processes_mentioning

pytestmark = pytest.mark.mongod


def _start_in_background(directory: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mongoshard", "up", *arguments], cwd=directory, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _wait_for_members(directory: Path, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(processes_mentioning(str(directory))) < count:
        assert time.monotonic() < deadline, "the members never started"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_mid_start_rolls_back_everything(workdir: Path, signum: int) -> None:
    starting = _start_in_background(workdir)
    _wait_for_members(workdir, 1)  # the first member has started; the others are starting or waiting
    starting.send_signal(signum)
    stdout, stderr = starting.communicate(timeout=60)
    assert starting.returncode == 128 + signum, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith(f"mongoshard: interrupted by {signal.Signals(signum).name}; stopped what it was starting (")
    assert processes_mentioning(str(workdir)) == [], "up must stop what it started"


def test_a_second_ctrl_c_during_the_rollback_prints_no_traceback(workdir: Path) -> None:
    starting = _start_in_background(workdir)
    _wait_for_members(workdir, 2)
    starting.send_signal(signal.SIGINT)
    time.sleep(0.05)
    starting.send_signal(signal.SIGINT)
    stdout, stderr = starting.communicate(timeout=60)
    assert starting.returncode == 130 and "Traceback" not in stderr and stderr.count("\n") == 1, stderr
    assert processes_mentioning(str(workdir)) == []


def test_a_lost_state_file_still_finds_every_process(workdir: Path) -> None:
    assert run("up", "--no-auth", cwd=workdir).returncode == 1  # no mongos here: the rest runs
    running = sorted(processes_mentioning(str(workdir)))
    assert len(running) == 3
    (workdir / ".mongoshard" / "state.json").unlink()

    status = run("status", "--json", cwd=workdir)
    import json
    states = {p["name"]: (p["pid"], p["state"]) for p in json.loads(status.stdout)["processes"]}
    assert sorted(pid for pid, _ in states.values() if pid) == running
    assert {state for name, (_, state) in states.items() if name != "mongos-0"} == {"PRIMARY"}

    again = run("up", "--no-auth", cwd=workdir)
    assert "Already running: nothing started." in again.stdout and sorted(processes_mentioning(str(workdir))) == running
    (workdir / ".mongoshard" / "state.json").unlink()
    stopped = run("down", cwd=workdir)
    assert stopped.returncode == 0 and stopped.stdout.startswith("Stopped ")
    assert processes_mentioning(str(workdir)) == [], "down must stop processes it has no record of"


def test_a_lost_admin_password_is_an_error_with_the_fix(workdir: Path) -> None:
    assert run("up", cwd=workdir).returncode == 1
    assert run("down", cwd=workdir).returncode == 0
    keyfile = (workdir / ".mongoshard" / "keyfile").read_bytes()
    (workdir / ".mongoshard" / "admin-password").unlink()
    refused = run("up", cwd=workdir)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "admin-password is missing" in refused.stderr and "down --purge" in refused.stderr
    assert not (workdir / ".mongoshard" / "admin-password").exists(), "no new password may replace the lost one"
    assert (workdir / ".mongoshard" / "keyfile").read_bytes() == keyfile
    assert processes_mentioning(str(workdir)) == []


def test_init_over_a_damaged_keyfile_it_did_not_create_writes_nothing_and_says_what_helps(tmp_path: Path) -> None:
    """Issue 18 leftover: init wrote mongoshard.yaml before it read the secrets, then told the user to 'down --purge',
    which refuses files mongoshard did not create."""
    state = tmp_path / ".mongoshard"
    state.mkdir(mode=0o700)
    (state / "keyfile").write_text("bad key!\n")
    refused = run("init", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "not a key mongod accepts" in refused.stderr and "remove it yourself" in refused.stderr
    assert "down --purge" not in refused.stderr
    assert not (tmp_path / "mongoshard.yaml").exists() and (state / "keyfile").read_text() == "bad key!\n"
    (state / "keyfile").unlink()
    assert run("init", cwd=tmp_path).returncode == 0 and (tmp_path / "mongoshard.yaml").exists()


def test_purge_deletes_only_what_mongoshard_created(workdir: Path) -> None:
    shared = workdir / "var"
    (shared / "data").mkdir(parents=True)
    (shared / "logs").mkdir()
    mine = {shared / "notes.txt": "mine", shared / "data" / "export.csv": "a,b", shared / "logs" / "app.log": "started"}
    for path, text in mine.items():
        path.write_text(text)
    (workdir / "mongoshard.yaml").write_text((workdir / "mongoshard.yaml").read_text() + "data_dir: var\n")
    assert run("up", "--no-auth", cwd=workdir).returncode == 1
    assert (shared / "data" / "cfgrs-0").is_dir() and (shared / "state.json").exists()

    purged = run("down", "--purge", cwd=workdir)
    assert purged.returncode == 0, purged.stderr
    assert "kept what it did not create" in purged.stdout and "notes.txt" in purged.stdout
    assert {path: path.read_text() for path in mine} == mine
    left = sorted(str(p.relative_to(shared)) for p in shared.rglob("*"))
    assert left == ["data", "data/export.csv", "logs", "logs/app.log", "notes.txt"]
    assert (workdir / "mongoshard.yaml").exists()


def test_up_with_compose_never_replaces_a_compose_file_it_did_not_write(workdir: Path) -> None:
    mine = "# my application's own services\nservices:\n  web: {image: nginx}\n"
    (workdir / "compose.yaml").write_text(mine)
    refused = run("up", "--compose", cwd=workdir)
    assert refused.returncode == 2 and "compose.yaml exists and was not written by mongoshard" in refused.stderr
    assert (workdir / "compose.yaml").read_text() == mine


def test_purge_adopts_nothing_that_existed_and_keeps_what_is_put_beside_or_inside(workdir: Path) -> None:
    """The second attacker's cases: a user's log copy and folder beside mongod's logs, a log that existed before in a
    shared data_dir, and a note put inside a data directory mongoshard created."""
    shared = workdir / "var"
    (shared / "logs").mkdir(parents=True)
    before = shared / "logs" / "cfgrs-0.log"
    before.write_text("the user's own log, here before mongoshard\n")
    rotated_before = shared / "logs" / "shard0-0.log.2024-05-01T10-00-00"  # named like mongod's, but older than it
    rotated_before.write_text("the user's")
    (workdir / "mongoshard.yaml").write_text((workdir / "mongoshard.yaml").read_text() + "data_dir: var\n")
    assert run("up", "--no-auth", cwd=workdir).returncode == 1
    beside = {shared / "logs" / "cfgrs-0.log.my-copy": "copy", shared / "logs" / "shard0-0.log.d" / "x.txt": "x",
              shared / "data" / "shard0-0" / "README-mine.txt": "notes",
              shared / "data" / "shard0-0" / "backup" / "collection-0-mybackup.wt": "a look-alike in a subfolder",
              shared / "data" / "shard0-0" / "journal" / "README": "the user's", rotated_before: "the user's",
              shared / "data" / "shard0-0" / "startup_log_analysis.txt": "the user's"}
    for path, text in beside.items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    rotated = shared / "logs" / "shard0-0.log.2026-01-01T00-00-00"
    rotated.write_text("rotated by mongod's logRotate")
    assert run("down", cwd=workdir).returncode == 0
    purged = run("down", "--purge", cwd=workdir)
    assert purged.returncode == 0, purged.stderr
    assert {path: path.read_text() for path in beside} == dict(beside)
    assert before.read_text().startswith("the user's own log, here before mongoshard")
    assert not rotated.exists() and not (shared / "logs" / "shard1-0.log").exists()
    left = sorted(p.relative_to(shared / "data" / "shard0-0").as_posix() for p in (shared / "data" / "shard0-0").rglob("*"))
    assert left == ["README-mine.txt", "backup", "backup/collection-0-mybackup.wt", "journal", "journal/README",
                    "startup_log_analysis.txt"]  # mongod's files gone, the user's kept with their folders
    assert "README-mine.txt" in purged.stdout and "kept what it did not create" in purged.stdout


def test_a_process_that_only_mentions_a_log_is_never_taken_for_the_server(workdir: Path) -> None:
    """A ``tail -f`` of the config server's log, with state.json lost: status must find the real mongod, and down
    must not stop the tail (issue 18)."""
    import json
    import subprocess

    assert run("up", "--no-auth", cwd=workdir).returncode == 1
    log = workdir / ".mongoshard" / "logs" / "cfgrs-0.log"
    tail = subprocess.Popen(["tail", "-f", str(log.resolve())], stdout=subprocess.DEVNULL)
    try:
        (workdir / ".mongoshard" / "state.json").unlink()
        status = json.loads(run("status", "--json", cwd=workdir).stdout)
        pids = {p["name"]: p["pid"] for p in status["processes"]}
        assert pids["cfgrs-0"] not in (None, tail.pid)
        assert run("down", cwd=workdir).returncode == 0
        assert tail.poll() is None, "down stopped a process that was not the server"
    finally:
        tail.kill()
        tail.wait()
    assert processes_mentioning(str(workdir)) == []


def test_up_refuses_a_data_directory_it_did_not_create(workdir: Path) -> None:
    """The second attacker's F3: mongod was started in a user's folder, which purge then left half full."""
    mine = workdir / ".mongoshard" / "data" / "shard1-0"
    mine.mkdir(parents=True)
    (mine / "important.txt").write_text("usernotes")
    started = run("up", "--no-auth", cwd=workdir)
    assert started.returncode == 2 and "shard1-0 exists and mongoshard did not create it" in started.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["important.txt"]
    assert processes_mentioning(str(workdir)) == [], "what up started before the refusal is stopped"
