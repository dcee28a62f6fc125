"""The savepoint release check runs both sides for real: a savepoint taken by a git revision's code
on its own cluster, restored by this checkout on a fresh one, and the store compared with a batch fold."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.savepoint_compat import REPO, main

pytestmark = [pytest.mark.flink, pytest.mark.cluster]


def test_requires_a_revision():
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_a_savepoint_of_the_committed_code_restores_into_this_checkout(tmp_path, capfd):
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    main(["--from-rev", head, "--work", str(tmp_path / "work")])
    out = capfd.readouterr().out
    assert "older version: savepoint" in out and "this checkout: restored and equal to the batch fold" in out
    worktrees = subprocess.run(["git", "-C", str(REPO), "worktree", "list"], capture_output=True, text=True).stdout
    assert str(tmp_path) not in worktrees, "the older version's worktree is removed afterwards"
    assert not (Path(tmp_path) / "work" / "older").exists()
