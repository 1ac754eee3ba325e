"""Which whole performances train, validate and test.

IMPSY validates on the last 10% of its windows. Windows overlap by all but
one row, so each validation window's neighbours sit in the training set and
the validation loss says little about unseen playing. Here validation and
test sets are whole performances, chosen by a seeded generator so the same
seed always gives the same split (the summary records the indices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impsy.errors import ImpsyError


@dataclass(frozen=True)
class Split:
    """Indices into the dataset's performances, each list sorted."""

    train: list[int]
    validation: list[int]
    test: list[int]

    def as_dict(self) -> dict[str, list[int]]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def choose_test(lengths: list[int], test_performances: int, seed: int) -> list[int]:
    """The held-out test performances: ``test_performances`` indices drawn with ``seed``.

    Drawn only among performances with two or more rows (an empty log scores
    nothing), from their own generator, before anything else, so the test
    set depends only on the lengths, the count and the seed, and a
    benchmark or a reader of the summary can rebuild it.
    """
    scorable = [i for i, n in enumerate(lengths) if n >= 2]
    if test_performances < 0 or test_performances >= len(scorable):
        raise ImpsyError(
            f"--test-performances {test_performances}: the dataset has {len(scorable)} "
            "performances of two or more rows; hold out fewer so some are left to train on"
        )
    rng = np.random.default_rng([seed, 1])
    chosen = rng.choice(len(scorable), size=test_performances, replace=False)
    return sorted(scorable[int(i)] for i in chosen)


def split_performances(
    lengths: list[int],
    test_performances: int,
    seed: int,
    validation_fraction: float = 0.1,
    minimum_length: int = 2,
) -> Split:
    """Test set first (see :func:`choose_test`), then validation performances.

    Validation takes whole performances, in a seeded random order, until
    they hold at least ``validation_fraction`` of the remaining usable rows
    (at least one performance, and never all of them). Performances shorter
    than ``minimum_length`` cannot make a window; they stay in ``train``
    (where they are ignored) so the split still lists every index.
    """
    count = len(lengths)
    test = choose_test(lengths, test_performances, seed)
    rest = [i for i in range(count) if i not in set(test)]
    usable = [i for i in rest if lengths[i] >= minimum_length]
    if len(usable) < 2:
        raise ImpsyError(
            f"only {len(usable)} performance(s) left for training have at least "
            f"{minimum_length} rows; need two (one to train, one to validate): record more, "
            "lower --test-performances or use a shorter --sequence-length"
        )
    rng = np.random.default_rng([seed, 2])
    order = [usable[i] for i in rng.permutation(len(usable))]
    target = validation_fraction * sum(lengths[i] for i in usable)
    validation: list[int] = []
    held = 0
    for index in order[:-1]:
        if validation and held >= target:
            break
        validation.append(index)
        held += lengths[index]
    train = [i for i in rest if i not in set(validation)]
    return Split(train=train, validation=sorted(validation), test=test)
