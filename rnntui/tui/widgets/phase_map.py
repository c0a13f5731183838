"""The race's phase map: runs.phasemap's grids, one per rule lag, filled in as laps end."""

from __future__ import annotations

from textual.widgets import Static

from ...runs.phasemap import PhaseMap, maps, render_all


class PhaseMapView(Static):
    """Shown for a two-field grid only. The race screen calls `show` when a race starts,
    `running` when a config starts and `result` when it ends; each repaints at once
    (a lap ends every few seconds at most, so no timer is needed)."""

    DEFAULT_CSS = """
    PhaseMapView {
        width: auto;
        height: 1fr;
        overflow-y: auto;
        padding: 0 1;
    }
    """

    def __init__(self, **kwargs):
        super().__init__("", **kwargs)
        self.grid: list[tuple[str, list]] = []
        self.lags: list[str] = []
        self.results: dict[int, object] = {}  # config index -> SweepResult or a message
        self.running_index: int | None = None
        self.seeds = 1

    def show(self, grid: list[tuple[str, list]], lags: list[str], seeds: int = 1) -> None:
        """A new race over `grid` (its cells all waiting, `seeds` runs each); hidden unless
        it has two fields."""
        self.grid, self.lags, self.results, self.running_index = grid, lags, {}, None
        self.seeds = seeds
        self.display = len(grid) == 2
        self._paint()

    def running(self, index: int) -> None:
        self.running_index = index
        self._paint()

    def result(self, index: int, result) -> None:
        """Config `index` ended: its SweepResult, or the one line saying why it could not run."""
        self.results[index] = result
        if self.running_index == index:
            self.running_index = None
        self._paint()

    def maps(self) -> list[PhaseMap]:
        """The maps as drawn now ([] when hidden)."""
        if len(self.grid) != 2:
            return []
        return maps(self.grid, self.lags, self.results, self.running_index, self.seeds)

    def _paint(self) -> None:
        if self.display:
            self.update(render_all(self.maps(), compact=True))
