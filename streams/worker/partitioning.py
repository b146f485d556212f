"""Which partition of the scopes topic owns a scope.

The same hash as Kafka's default partitioner (murmur2 of the key bytes), so the partition an
envelope is sent to, the changelog partition the scope's records land in, and the worker
Faust's router names as the owner of the key are always one and the same.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=65536)
def partition_of(scope: str, partitions: int) -> int:
    return (murmur2(scope.encode()) & 0x7FFFFFFF) % partitions
