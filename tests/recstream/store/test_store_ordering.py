"""write_timestamp_us: Cassandra's last-write-wins must order states like (event_time, state_seq)."""
import itertools
import random

import pytest

from recstream.store.cassandra.ordering import ordering_exact, write_timestamp_us


def test_orders_exactly_like_the_tuple_inside_a_block_of_1000():
    states = [(e, s) for e in (-5, 0, 1, 2, 1_700_000_000_000) for s in range(0, 3000, 37)] + [(1, 999), (1, 1000)]
    for a, b in itertools.combinations(states, 2):
        if ordering_exact(a, b):
            assert (write_timestamp_us(*a) < write_timestamp_us(*b)) == (a < b), (a, b)
            assert (write_timestamp_us(*a) == write_timestamp_us(*b)) == (a == b), (a, b)


def test_a_newer_event_time_wins_whatever_the_sequence():
    # keyed state expired and the user came back: seq restarts at 1
    assert write_timestamp_us(1001, 1) > write_timestamp_us(1000, 999_999)
    assert write_timestamp_us(1001, 0) > write_timestamp_us(1000, 999)


def test_timestamp_lies_in_the_events_own_millisecond():
    rng = random.Random(1)
    for _ in range(1000):
        e, s = rng.randrange(0, 4_000_000_000_000), rng.randrange(0, 10**9)
        assert write_timestamp_us(e, s) // 1000 == e


def test_documented_limit_equal_event_time_across_a_multiple_of_1000():
    """The one case the arithmetic cannot order (docs/cassandra.md): same event-time ms, seqs 999 -> 1001."""
    assert not ordering_exact((500, 999), (500, 1001))
    assert write_timestamp_us(500, 1001) < write_timestamp_us(500, 999)  # the newer state loses
    assert ordering_exact((500, 999), (501, 1001)) and ordering_exact((500, 1000), (500, 1999))


def test_realistic_user_stream_is_ordered_exactly_except_at_documented_wraps():
    """A user's states: event time never decreases, seq strictly increases; equal event times are common."""
    rng = random.Random(7)
    e, s, states = 1_700_000_000_000, 0, []
    for _ in range(20_000):
        e += rng.choice([0, 0, 0, 1, 3, 250])
        s += rng.randint(1, 4)
        states.append((e, s))
    inversions = [(a, b) for a, b in zip(states, states[1:]) if write_timestamp_us(*b) <= write_timestamp_us(*a)]
    assert all(not ordering_exact(a, b) for a, b in inversions)
    assert all(a[0] == b[0] and a[1] // 1000 != b[1] // 1000 for a, b in inversions)


@pytest.mark.parametrize("args", [(0, -1), (2**62, 0), (-(2**62), 0)])
def test_rejects_values_outside_the_64_bit_range(args):
    with pytest.raises(ValueError):
        write_timestamp_us(*args)
