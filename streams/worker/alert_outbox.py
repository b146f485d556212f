"""Alerts written with the state that marks them sent, and sent only once that is in Kafka.

An alert used to be sent before the checkpoint that marked it sent. A kill in between
restored the state without the mark, and the replay decided afresh: usually the same alert
again (at least once), but a `target_achieved` whose deal was corrected in the same replayed
batch was never due again, so the topic kept an achievement the figures no longer showed
and no revocation ever followed (the supersession audit: missed, achieved, then nothing,
while the API said missed).

Now the state and the alerts it marks sent go together: each checkpoint writes, per
partition, the alerts not yet known delivered (one record, `ALERT_OUTBOX`) with the state
that marks them, and sends them once that is in Kafka; the next checkpoint drops those
delivered. A kill before the checkpoint lands loses both (the replay decides again, with
nothing sent); a kill after it restores the record, and whoever rebuilds the partition
sends them again (with their alert ids: at least once, never contradicting the state).
"""

from __future__ import annotations

from collections import defaultdict

from streams.engine.state import ALERT_OUTBOX, encode_value, make_key

Writes = dict[int, dict[bytes, bytes | None]]


def outbox_key(partition: int) -> bytes:
    return make_key("", ALERT_OUTBOX, partition)


class AlertOutbox:
    """The alerts of each partition not yet known delivered, and where each stands."""

    def __init__(self) -> None:
        #: partition -> alerts (JSON) the batches made since the last checkpoint
        self.added: dict[int, list[bytes]] = defaultdict(list)
        #: partition -> alerts the table's record holds (written, or being written)
        self.owed: dict[int, list[bytes]] = {}
        #: partition -> alerts found in the table when its views were rebuilt: owed, and
        #: sent again after the next checkpoint
        self.restored: dict[int, list[bytes]] = {}

    def add(self, partition: int, alerts: list[bytes]) -> None:
        if alerts:
            self.added[partition].extend(alerts)

    def take(self) -> tuple[dict[int, list[bytes]], Writes]:
        """At a checkpoint: the alerts to send once it is in Kafka, and the writes that
        keep them in the table until they are delivered."""
        added, self.added = self.added, defaultdict(list)
        to_send = {p: list(alerts) for p, alerts in self.restored.items()}
        self.restored = {}
        writes: Writes = {}
        for partition, alerts in added.items():
            self.owed[partition] = [*self.owed.get(partition, []), *alerts]
            writes[partition] = {outbox_key(partition): encode_value(self.owed[partition])}
            to_send.setdefault(partition, []).extend(alerts)
        return to_send, writes

    def delivered(self, sent: dict[int, list[bytes]]) -> Writes:
        """The writes that drop delivered alerts from the table (at the next checkpoint)."""
        writes: Writes = {}
        for partition, alerts in sent.items():
            left = list(self.owed.get(partition, []))
            for alert in alerts:
                if alert in left:
                    left.remove(alert)
            if left:
                self.owed[partition] = left
            else:
                self.owed.pop(partition, None)
            writes[partition] = {outbox_key(partition): encode_value(left) if left else None}
        return writes

    def rebuilding(self) -> None:
        """The views are rebuilt (a rebalance, a start): what is owed is read anew."""
        self.owed.clear()
        self.restored.clear()

    def found(self, partition: int, alerts: list[bytes]) -> None:
        """A partition's record, read while its views are rebuilt."""
        if alerts:
            self.owed[partition] = list(alerts)
            self.restored[partition] = list(alerts)
