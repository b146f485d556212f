"""Whom a deal was attributed to before (accounts, reps and teams), kept to tell again, within
a budget.

A deal tells its current account, rep and team what it contributes, and every former one that
it contributes nothing, in each batch that touches it: a send lost to a crash is repaired by
the next batch. Kept whole, the formers grew with each correction: some 70 accounts with
64 KB ids passed the 4 MiB a changelog record holds, and the worker stopped on that input.
Past the budget, the formers told longest ago are forgotten. Each one was told at least once,
and what a batch sends is in Kafka before the state that forgets it is written
(`streams.worker.batch_handler.start_checkpoint`), so a kill in between replays the batch,
which tells it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Party = TypeVar("Party")

#: characters of former account ids a deal keeps (some 500 ids of a usual length)
FORMER_ACCOUNT_CHARS = 64 * 1024
#: former (rep, team) owners a deal keeps
FORMER_OWNERS = 500


def remember(
    parties: list[Party],
    current: Party | None,
    cost: Callable[[Party], int],
    budget: int,
) -> list[Party]:
    """`parties` with `current` last (told most recently), without the formers told longest
    ago while the formers together cost more than `budget`. The current party always stays."""
    kept = [p for p in parties if p != current]
    spent = sum(cost(p) for p in kept)
    drop = 0
    while drop < len(kept) and spent > budget:
        spent -= cost(kept[drop])
        drop += 1
    kept = kept[drop:]
    if current is not None:
        kept.append(current)
    return kept
