"""Which partition of the internal topic (and of the table) owns a scope.

A rep's scope lives on the partition Kafka's default partitioner gives a record keyed by the
rep's id (murmur2 of the key bytes), so a record keyed by `rep_id` as the contract
recommends is fetched by the worker that owns its rep and is folded where it landed, with
no hop through the internal topic. Every other scope (team, deal) is placed by the murmur2
of the scope text. Owner lookups (streams.worker.peers) use this function too, so where an
envelope is sent, where a scope's records land in the changelog and which worker answers
for it are always one and the same.
"""

from __future__ import annotations

from functools import lru_cache

from streams.domain.kafka_hash import default_partition

REP_PREFIX = "rep:"


#: scopes remembered: the wide bench's 300,000 events name 120,196 deals and 20,000
#: accounts, which thrashed a cache of 65,536
@lru_cache(maxsize=1 << 18)
def partition_of(scope: str, partitions: int) -> int:
    key = scope[len(REP_PREFIX) :] if scope.startswith(REP_PREFIX) else scope
    return default_partition(key.encode(), partitions)
