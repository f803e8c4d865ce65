"""`orderpipe run`: the pipeline running by itself — generate, ship, crawl, transform, in a loop.

Three parts, each the product's own: the generator (a thread writing orders at `rate`), the
agent (`shipper.ship --follow` in a thread, tailing the log folder into the target's delivery
stream) and, every `every` seconds, a cycle on the calling thread: the agent is stopped — which
flushes its records, closes the stream (the local stream then writes its buffer as a raw object)
and saves its checkpoint — and started again at once, then the crawler runs when raw changed
and the job runs when there is anything new. Everything written before a cycle's flush is
queryable when that cycle succeeds. A cycle that fails is reported and retried by the next one.

Stopping (`stop` set by Ctrl-C/SIGTERM, or `--for` elapsed): the generator stops, the agent
flushes and saves its checkpoint; after `--for`, one last cycle makes everything queryable.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from orderpipe.errors import NotReadyError, OrderpipeError, UsageError
from orderpipe.job.summary import RunSummary
from orderpipe.results import Lag
from orderpipe.shipper import ShipStats, ship
from orderpipe.targets.base import JobParams, Target

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
GENERATOR_CHUNK_SECONDS = 600  # one synthetic batch covers this long at the given rate


def parse_duration(text: str, option: str) -> float:
    """`10s`, `5m`, `1h`, `1d` or plain seconds, as seconds (> 0)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    seconds = float(match[1]) * _UNITS[match[2] or "s"] if match else 0.0
    if seconds <= 0:
        raise UsageError(f"{option} takes a duration such as 10s, 5m, 1h or 1d, not {text!r}.")
    return seconds


@dataclass
class Cycle:
    """What one cycle did."""

    number: int
    seconds: float = 0.0
    shipped: int = 0  # lines the agent delivered since the previous cycle
    crawled: bool = False
    run: RunSummary | None = None  # the job's run, when the cycle ran it
    note: str = ""  # why the job did not run, or where it was left
    error: str = ""  # one sentence when the cycle failed

    @property
    def failed(self) -> bool:
        return bool(self.error)


@dataclass
class RunFigures:
    """Live numbers of a run, read by the display while the loop updates them."""

    started: float = field(default_factory=time.time)
    written: int = 0
    shipped: int = 0
    transformed: int = 0
    quarantined: int = 0
    cycles: int = 0
    failures: int = 0
    last: Cycle | None = None
    lag: Lag | None = None  # the target's lag figures, per cycle
    lag_measured: float | None = None
    next_cycle: float = 0.0
    stopping: str = ""
    generating: bool = False
    queryable_through: float = 0.0  # orders written before this are queryable (last good flush)

    def current_lag(self, now: float) -> float | None:
        """The target's last measured lag, grown by the time since when something waited; while
        generating, at least the age of the orders written since the last successful flush."""
        seconds = self.lag.lag_seconds if self.lag else None
        measured = None
        if seconds is not None and self.lag_measured is not None:
            measured = float(seconds) + (now - self.lag_measured if seconds else 0.0)
        if not self.generating:
            return measured
        return max(measured or 0.0, now - self.queryable_through)


class _AgentThread:
    """`ship --follow` in a thread; `restart` flushes it and returns what it delivered."""

    def __init__(self, target: Target, poll_interval: float) -> None:
        self.target = target
        self.poll_interval = poll_interval
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.stats: ShipStats | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        stream = self.target.delivery_stream()
        self.stop = threading.Event()
        self.stats, self.error = None, None

        def follow() -> None:
            try:
                self.stats = ship(
                    stream, self.target.log_dir, self.target.state.agent, follow=True,
                    progress=False, stop=self.stop, poll_interval=self.poll_interval,
                )  # fmt: skip
            except BaseException as exc:  # reported by the next cycle
                self.error = exc

        self.thread = threading.Thread(target=follow, name="orderpipe-agent", daemon=True)
        self.thread.start()

    def finish(self) -> int:
        """Stop following: deliver everything, close the stream, save the checkpoint."""
        if self.thread is None:
            return 0
        self.stop.set()
        self.thread.join()
        self.thread = None
        if self.error is not None:
            raise self.error
        return self.stats.lines if self.stats else 0


class RunLoop:
    """The loop behind `orderpipe run`; `on_cycle` sees every finished cycle."""

    def __init__(
        self,
        target: Target,
        params: JobParams,
        *,
        every: float,
        rate: float | None = None,
        duration: float | None = None,
        seed: int | None = None,
        on_cycle: Callable[[Cycle, RunFigures], None] | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.target = target
        self.params = params
        self.every = every
        self.rate = rate
        self.duration = duration
        self.seed = seed
        self.on_cycle = on_cycle
        self.figures = RunFigures()
        self.agent = _AgentThread(target, poll_interval)
        self._stop_generating = threading.Event()
        self._generator: threading.Thread | None = None
        self._pending = True  # raw may hold what no job has read yet (from before, or a failure)
        self._shipped_before = 0
        self._deadline = float("inf")  # set by run() from `duration`
        self._generator_error = ""

    # the generator --------------------------------------------------------------------------
    def _orders(self) -> Iterator[bytes]:
        from orderpipe.generator import synthetic_orders

        chunk = max(1000, int((self.rate or 1) * GENERATOR_CHUNK_SECONDS))
        n = 0
        while True:
            seed = None if self.seed is None else self.seed + n
            for line in synthetic_orders(chunk, seed, days=1):
                if self._stop_generating.is_set() or time.time() >= self._deadline:
                    return
                yield line
            n += 1

    def _start_generator(self) -> None:
        from orderpipe.generator import write_orders

        def written(count: int) -> None:
            self.figures.written = count

        def generate() -> None:
            try:
                write_orders(self._orders(), self.target.log_dir, rate=self.rate,
                             on_progress=written)  # fmt: skip
            except Exception as exc:  # e.g. a full disk: the next cycle reports it
                self._generator_error = f"the generator stopped: {exc}"

        self._generator = threading.Thread(target=generate, name="orderpipe-generator", daemon=True)
        self._generator.start()

    def _stop_generator(self) -> None:
        self._stop_generating.set()
        if self._generator is not None:
            self._generator.join()

    # the loop -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> RunFigures:
        """Run until `stop` is set or `duration` has passed; returns the final figures."""
        figures = self.figures
        self.target.ensure_up()
        figures.started = figures.queryable_through = time.time()
        figures.generating = bool(self.rate)
        self._deadline = figures.started + self.duration if self.duration else float("inf")
        self.agent.start()
        if self.rate:
            self._start_generator()
        figures.next_cycle = figures.started + self.every
        try:
            while True:
                stop.wait(max(0.0, min(figures.next_cycle, self._deadline) - time.time()))
                if stop.is_set() or time.time() >= self._deadline:
                    break
                self.cycle(final=False)
                now = time.time()
                while figures.next_cycle <= now:  # a long cycle skips the slots it overran
                    figures.next_cycle += self.every
        finally:
            figures.stopping = "stopping: flushing the agent"
            self._stop_generator()
        if stop.is_set():
            figures.shipped += self._flush_agent(final=True)
        else:  # --for elapsed: one last cycle makes every order written queryable
            figures.stopping = "last cycle"
            self.cycle(final=True)
        return figures

    def _flush_agent(self, final: bool) -> int:
        try:
            return self.agent.finish()
        finally:
            if not final:
                self.agent.start()

    def cycle(self, final: bool) -> Cycle:
        """Flush the agent, crawl when raw changed, run the job when anything is new."""
        figures = self.figures
        cycle = Cycle(number=figures.cycles + 1)
        started = time.time()
        try:
            cycle.shipped = self._flush_agent(final)
            figures.shipped += cycle.shipped
            if self._transform(cycle):
                figures.queryable_through = started
            if self._generator_error:
                error, self._generator_error = self._generator_error, ""
                raise OrderpipeError(error)
        except Exception as exc:  # reported, and retried by the next cycle
            cycle.error = str(exc) or type(exc).__name__
            self._pending = True
            figures.failures += 1
        cycle.seconds = time.time() - started
        figures.cycles += 1
        figures.last = cycle
        self._measure_lag()
        if self.on_cycle is not None:
            self.on_cycle(cycle, figures)
        return cycle

    def _transform(self, cycle: Cycle) -> bool:
        """Crawl and run the job as needed; whether all that was flushed is now queryable."""
        every = self.target.scheduled_every()
        if every is not None:
            cycle.note = f"left to the target's schedule (every {every:,.0f}s)"
            return False
        # A remote stream may deliver what was shipped one cycle later: look one cycle back.
        new = cycle.shipped or self._shipped_before or self._pending
        self._shipped_before = cycle.shipped
        stale = self.target.crawl_is_stale()
        if not (new or stale):
            cycle.note = "nothing new"
            return True
        if stale:
            crawl = self.target.crawl()
            cycle.crawled = True
            if crawl.state == "FAILED":
                raise OrderpipeError(f"the crawl failed: {crawl.message}")
        try:
            run = self.target.run_transform(self.params, wait=True)
        except NotReadyError as exc:  # e.g. no raw data yet: nothing to do, not a failure
            self._pending = False
            cycle.note = str(exc).split(":")[0]
            return True
        self._pending = False
        cycle.run = run
        self.figures.transformed += run.transformed or 0
        self.figures.quarantined += run.quarantined_total or 0
        return True

    def _measure_lag(self) -> None:
        try:
            self.figures.lag = self.target.lag()
            self.figures.lag_measured = time.time()
        except Exception as exc:  # a display figure: never the reason a run stops
            self.figures.lag = Lag.unreadable(str(exc))
