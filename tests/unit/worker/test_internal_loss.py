"""Records of the internal topic deleted before the group folded them
(streams.worker.internal_loss): found from the committed offsets and the first offsets."""

from __future__ import annotations

from streams.worker.internal_loss import Gap, deleted_unread, refusal


def test_a_committed_offset_before_the_first_record_is_a_gap() -> None:
    committed = {0: 120, 1: 80, 2: 0, 3: -1}
    starts = {0: 120, 1: 95, 2: 0, 3: 40, 4: 10}
    # 0: folded up to where the topic starts (deleted after folding: fine); 1: 80..94 gone;
    # 2: nothing deleted; 3: no committed offset (-1); 4: the group never read it
    assert deleted_unread(committed, starts) == [Gap(1, 80, 95)]


def test_the_refusal_names_the_partitions_and_what_to_do() -> None:
    text = refusal("eu.scopes", "eu", [Gap(1, 80, 95), Gap(5, 0, 3)])
    assert text.startswith("salespulse worker: records of the internal topic eu.scopes")
    assert "partition 1: offsets 80 to 94; partition 5: offsets 0 to 2" in text
    assert "new SALES_APP_ID" in text and "retention.ms" in text
