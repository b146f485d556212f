"""The compiled murmur2 is Kafka's: equal to aiokafka's on any bytes."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.kafka_hash import default_partition, murmur2


@given(st.binary(max_size=80))
def test_murmur2_equals_aiokafkas(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@given(st.binary(max_size=40), st.integers(min_value=1, max_value=1000))
def test_default_partition_equals_the_producers(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert default_partition(key, partitions) == DefaultPartitioner()(key, every, every)


def test_known_values_of_kafkas_java_client() -> None:
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2, as unsigned 32-bit values
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536}
    for data, signed in cases.items():
        assert murmur2(data) == signed & 0xFFFFFFFF
