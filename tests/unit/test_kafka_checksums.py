"""The services install computes Kafka's record-batch checksums (CRC-32C) in C, and they are right.

kafka-python falls back to a pure-Python CRC-32C without the `crc32c` package: it cost the workers
0.1 ms per message sent and 0.1-0.15 ms per message read (most of the client's work per message).
"""

import os

import segmad.adapters.kafka  # noqa: F401  (importing it sets up kafka-python, as the workers do)
import kafka.record.util as record_util
from kafka.record._crc32c import crc as pure_python_crc32c
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder


def test_the_checksums_are_computed_in_c():
    assert record_util.crc32c_c is not None, "pip install 'kafka-python[crc32c]' (the services extra asks for it)"
    data = os.urandom(10_000)
    assert record_util.calc_crc32c(data) == pure_python_crc32c(memoryview(data))
    assert record_util.calc_crc32c(b"123456789") == 0xE3069283  # CRC-32C's check value


def test_a_batch_written_with_them_validates():
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for offset in range(50):
        builder.append(offset, timestamp=None, key=b"img%d" % offset, value=os.urandom(700), headers=[])
    batch = DefaultRecordBatch(bytes(builder.build()))
    assert batch.validate_crc()
    damaged = bytearray(builder.build())
    damaged[-1] ^= 0xFF
    assert not DefaultRecordBatch(bytes(damaged)).validate_crc()
