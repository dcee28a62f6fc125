"""Leave-one-out split as in the SASRec code (``data_partition``).

For each user with at least 3 interactions the last item is the test target,
the second last the validation target and the rest the training prefix; users
with fewer interactions keep everything in training and are not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LeaveOneOut:
    """``train[u]`` prefix, ``valid[u]`` / ``test[u]`` single targets (absent if too short)."""

    train: dict[str, list[int]]
    valid: dict[str, int]
    test: dict[str, int]

    def history(self, user: str) -> list[int]:
        """All items the user interacted with (train + valid + test)."""
        h = list(self.train[user])
        if user in self.valid:
            h.append(self.valid[user])
        if user in self.test:
            h.append(self.test[user])
        return h

    def valid_input(self, user: str) -> list[int]:
        """Sequence fed to the model to predict the validation item."""
        return self.train[user]

    def test_input(self, user: str) -> list[int]:
        """Sequence fed to the model to predict the test item (train + valid item)."""
        return self.train[user] + [self.valid[user]]


def leave_one_out(sequences: dict[str, list[int]]) -> LeaveOneOut:
    train, valid, test = {}, {}, {}
    for user, seq in sequences.items():
        if len(seq) < 3:
            train[user] = list(seq)
        else:
            train[user] = list(seq[:-2])
            valid[user] = seq[-2]
            test[user] = seq[-1]
    return LeaveOneOut(train, valid, test)
