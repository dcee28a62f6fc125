"""Anomaly and fraud signals per user: event-rate outliers with tiered thresholds and
bot-like sessions.

Rate. Events are counted per user in event-time buckets of ``bucket_ms`` (one
minute by default). At every event the running count ``x`` of its bucket is
compared with

* the user's own rolling baseline: an EWMA mean and variance over the user's
  completed *active* buckets (buckets with at least one event; idle minutes are
  not counted, so a user's rate while active is compared with their usual rate
  while active), usable after ``min_own_buckets`` buckets;
* the population baseline: a mergeable, exponentially forgetting (half-life over
  event time) weighted mean/variance of all users' completed active buckets
  (:class:`PopulationStats`), or the configured prior until it has
  ``population_min_weight`` buckets of evidence.

``z = (x - mean) / max(std, min_std)``; the event's tier is ``block`` when
``max(z_own, z_pop) >= block_z``, ``warn`` when ``>= warn_z``, otherwise ``ok``,
and always ``ok`` while ``x < min_events`` (a handful of events per minute is never
an outlier, whatever the deviation). Completed buckets enter both baselines
clipped to ``mean + block_z * std`` so that a bot cannot drag the baseline up to
itself; buckets that had a ``block`` or bot-session event do not enter the
population at all (bots are few users but can be most of the events). An event
that falls into an already closed bucket (out of order) is rated ``ok`` and does
not change any rate.

Bot-like sessions. Sessions split on ``session_gap_ms`` of event time. A session
is bot-like once it has ``bot_min_session_events`` events and at least
``bot_fast_fraction`` of its gaps are shorter than ``bot_fast_gap_ms``; from then
on its events carry the BOT flag and the session is counted once in
``bot_sessions``.

``UserAnomaly.apply`` returns a small int verdict (tier | BOT); ``excluded``
says whether an event with that verdict is kept out of item popularity.

Determinism. Everything depends on event times and fold order only. The own-rate
and bot features are a function of the user's events. The population z-score
also depends on what the population aggregate had seen when the event was folded:
pass a ``frozen`` :class:`PopulationStats` (e.g. learned by a backfill, or only the
prior) where a stream and a batch run must agree exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

OK, WARN, BLOCK = 0, 1, 2
TIER_MASK = 3
BOT = 4
TIERS = ("ok", "warn", "block")


@dataclass(frozen=True)
class AnomalyParams:
    bucket_ms: int = 60_000
    ewma_alpha: float = 0.1  # own baseline: weight of the newest completed bucket
    min_own_buckets: int = 5
    min_std: float = 1.0  # floor of the deviation, events per bucket
    min_events: int = 10  # a bucket with fewer events is never an outlier
    warn_z: float = 3.0
    block_z: float = 6.0
    population_half_life_ms: int = 6 * 3_600_000
    population_prior_mean: float = 2.0
    population_prior_std: float = 2.0
    population_min_weight: float = 30.0
    session_gap_ms: int = 30 * 60_000
    bot_min_session_events: int = 20
    bot_fast_gap_ms: int = 1_000
    bot_fast_fraction: float = 0.8
    exclude_tier: Literal["warn", "block", "none"] = "block"  # this tier and above: not in item popularity
    exclude_bot_sessions: bool = True

    def __post_init__(self) -> None:
        if self.bucket_ms <= 0 or self.session_gap_ms <= 0 or self.population_half_life_ms <= 0:
            raise ValueError("anomaly.bucket_ms, session_gap_ms and population_half_life_ms must be > 0")
        if not 0 < self.ewma_alpha <= 1:
            raise ValueError(f"anomaly.ewma_alpha must be in (0, 1], got {self.ewma_alpha}")
        if not 0 < self.warn_z <= self.block_z:
            raise ValueError(f"anomaly needs 0 < warn_z <= block_z, got {self.warn_z}, {self.block_z}")
        if self.min_std <= 0:
            raise ValueError("anomaly.min_std must be > 0")
        if not 0 < self.bot_fast_fraction <= 1:
            raise ValueError("anomaly.bot_fast_fraction must be in (0, 1]")
        if self.exclude_tier not in ("warn", "block", "none"):
            raise ValueError(f"anomaly.exclude_tier must be warn, block or none, got {self.exclude_tier!r}")


def tier_name(verdict: int) -> str:
    return TIERS[verdict & TIER_MASK]


def excluded(verdict: int, p: AnomalyParams) -> bool:
    """Should an event with this verdict be kept out of item popularity?"""
    if p.exclude_bot_sessions and verdict & BOT:
        return True
    tier = verdict & TIER_MASK
    return (p.exclude_tier == "warn" and tier >= WARN) or (p.exclude_tier == "block" and tier == BLOCK)


def _tier(z: float, p: AnomalyParams) -> int:
    return BLOCK if z >= p.block_z else WARN if z >= p.warn_z else OK


class PopulationStats:
    """Weighted mean/variance of completed per-user buckets, forgetting with a half-life
    over event time; mergeable (Chan et al.'s parallel update on decayed weights)."""

    __slots__ = ("k", "w", "mean", "m2", "ref", "frozen")

    def __init__(self, half_life_ms: int, frozen: bool = False) -> None:
        self.k = math.log(2.0) / half_life_ms
        self.w = 0.0
        self.mean = 0.0
        self.m2 = 0.0
        self.ref = None
        self.frozen = frozen

    @classmethod
    def for_params(cls, p: AnomalyParams, frozen: bool = False) -> "PopulationStats":
        return cls(p.population_half_life_ms, frozen)

    def _decay_to(self, ts: int) -> None:
        if self.ref is None:
            self.ref = ts
        elif ts > self.ref:
            f = math.exp(-self.k * (ts - self.ref))
            self.w *= f
            self.m2 *= f
            self.ref = ts

    def add(self, x: float, ts: int) -> None:
        if self.frozen:
            return
        self._decay_to(ts)
        wt = math.exp(-self.k * (self.ref - ts))  # 1 unless ts is older than the reference
        self.w += wt
        d = x - self.mean
        self.mean += wt * d / self.w
        self.m2 += wt * d * (x - self.mean)

    def merge(self, other: "PopulationStats") -> None:
        if other.ref is None:
            return
        if self.ref is None:
            self.w, self.mean, self.m2, self.ref = other.w, other.mean, other.m2, other.ref
            return
        ref = max(self.ref, other.ref)
        fa, fb = math.exp(-self.k * (ref - self.ref)), math.exp(-self.k * (ref - other.ref))
        wa, wb = self.w * fa, other.w * fb
        w = wa + wb
        if w == 0:
            return
        d = other.mean - self.mean
        self.mean += d * wb / w
        self.m2 = self.m2 * fa + other.m2 * fb + d * d * wa * wb / w
        self.w, self.ref = w, ref

    def baseline(self, p: AnomalyParams) -> tuple[float, float]:
        """(mean, std) to compare with: the prior until ``population_min_weight`` is reached."""
        if self.w < p.population_min_weight:
            return p.population_prior_mean, p.population_prior_std
        return self.mean, math.sqrt(max(self.m2 / self.w, 0.0))

    def freeze(self) -> "PopulationStats":
        """A frozen copy (reads only), for exact stream/batch agreement."""
        c = PopulationStats.__new__(PopulationStats)
        c.k, c.w, c.mean, c.m2, c.ref, c.frozen = self.k, self.w, self.mean, self.m2, self.ref, True
        return c


class UserAnomaly:
    """Per-user rate and bot-session state (about 15 numbers; params passed per call)."""

    __slots__ = ("bucket", "count", "b_flag", "mean", "var", "n", "s_last", "s_events", "s_fast", "s_bot",
                 "bot_sessions", "warn_events", "block_events", "bot_events", "max_z")

    def __init__(self) -> None:
        self.bucket = None  # current event-time bucket index
        self.count = 0  # events in the current bucket so far
        self.b_flag = False  # the current bucket had a block-tier or bot-session event
        self.mean = 0.0  # own EWMA over completed active buckets
        self.var = 0.0
        self.n = 0  # completed active buckets
        self.s_last = None  # newest event time of the current session
        self.s_events = 0
        self.s_fast = 0  # gaps < bot_fast_gap_ms in the current session
        self.s_bot = False
        self.bot_sessions = 0
        self.warn_events = 0
        self.block_events = 0
        self.bot_events = 0
        self.max_z = 0.0

    def __getstate__(self):
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state) -> None:
        for s, v in zip(self.__slots__, state):
            setattr(self, s, v)

    def _close_bucket(self, ts: int, p: AnomalyParams, population: PopulationStats | None) -> None:
        """Fold the finished bucket into the baselines (``ts``: the event that closed it,
        used as the population's time so that a bucket closed late is not down-weighted)."""
        x = self.count
        if population is not None and not population.frozen and not self.b_flag:
            pm, ps = population.baseline(p)
            population.add(min(x, pm + p.block_z * max(ps, p.min_std)), ts)
        if self.n >= p.min_own_buckets:
            x = min(x, self.mean + p.block_z * max(math.sqrt(self.var), p.min_std))
        if self.n == 0:
            self.mean, self.var = float(x), 0.0
        else:
            a = p.ewma_alpha
            d = x - self.mean
            self.mean += a * d
            self.var = (1 - a) * (self.var + a * d * d)
        self.n += 1

    def apply(self, event: dict, p: AnomalyParams, population: PopulationStats | None = None) -> int:
        """Fold one event in; returns its verdict (``OK``/``WARN``/``BLOCK``, ``| BOT``).

        ``population`` (optional) is read for the population z-score and, unless
        frozen, fed with this user's completed buckets."""
        ts = event["event_time"]
        verdict = OK
        b = ts // p.bucket_ms
        if self.bucket is None or b > self.bucket:
            if self.bucket is not None:
                self._close_bucket(ts, p, population)
            self.bucket, self.count, self.b_flag = b, 0, False
        if b == self.bucket:
            self.count += 1
            x = self.count
            if x >= p.min_events:
                z = 0.0
                if self.n >= p.min_own_buckets:
                    z = (x - self.mean) / max(math.sqrt(self.var), p.min_std)
                if population is not None:
                    pm, ps = population.baseline(p)
                else:
                    pm, ps = p.population_prior_mean, p.population_prior_std
                z = max(z, (x - pm) / max(ps, p.min_std))
                if z > self.max_z:
                    self.max_z = z
                verdict = _tier(z, p)
        # sessions (gaps only between in-order events)
        if self.s_last is None or ts > self.s_last + p.session_gap_ms:
            self.s_last, self.s_events, self.s_fast, self.s_bot = ts, 1, 0, False
        else:
            self.s_events += 1
            if ts >= self.s_last:
                if ts - self.s_last < p.bot_fast_gap_ms:
                    self.s_fast += 1
                self.s_last = ts
            if (not self.s_bot and self.s_events >= p.bot_min_session_events
                    and self.s_fast >= p.bot_fast_fraction * (self.s_events - 1)):
                self.s_bot = True
                self.bot_sessions += 1
        if self.s_bot:
            verdict |= BOT
            self.bot_events += 1
        if verdict & TIER_MASK == WARN:
            self.warn_events += 1
        elif verdict & TIER_MASK == BLOCK:
            self.block_events += 1
        if verdict >= BLOCK and b == self.bucket:
            self.b_flag = True
        return verdict

    def features(self) -> dict:
        return {
            "rate_bucket_events": self.count,
            "rate_own_mean": self.mean,
            "rate_own_std": math.sqrt(self.var),
            "rate_own_buckets": self.n,
            "rate_max_z": self.max_z,
            "warn_events": self.warn_events,
            "block_events": self.block_events,
            "bot_like_session": self.s_bot,
            "bot_sessions": self.bot_sessions,
            "bot_session_events": self.bot_events,
        }


def fold_anomaly(events, p: AnomalyParams, population: PopulationStats | None = None):
    """Batch fold in the order given: (per-user states, verdict per event in input order)."""
    states: dict[str, UserAnomaly] = {}
    verdicts: list[int] = []
    for event in events:
        s = states.get(event["user_id"])
        if s is None:
            s = states[event["user_id"]] = UserAnomaly()
        verdicts.append(s.apply(event, p, population))
    return states, verdicts
