"""The sweep of ``python -m nocopy.bench --sweep``: cells under 1.0x are timed again, and the
report counts those slow on both timings apart from those that lost once."""

import time

from nocopy import _sweep


def test_a_losing_cell_is_timed_again_and_a_winning_one_is_not():
    slow = _sweep.measured("f", "g", "case", "float64", lambda: time.sleep(2e-3),
                           lambda: time.sleep(5e-4), budget=0.01)  # fmt: skip
    fast = _sweep.measured("f", "g", "case", "float64", lambda: time.sleep(5e-4),
                           lambda: time.sleep(2e-3), budget=0.01)  # fmt: skip
    assert slow.ratio < 1.0 and slow.repeat is not None and slow.repeat < 1.0 and slow.slow
    assert fast.ratio > 1.0 and fast.repeat is None and not fast.slow


def test_report_lists_each_familys_worst_first_with_repeats_and_counts_both():
    cells = [
        _sweep.Cell("reduction", "sum", "(10,)", "float64", 2.0, 1.0, repeat=1.3),
        _sweep.Cell("moving", "move_sum", "(10,) w=3", "float32", 4.0, 1.0, repeat=0.3),
        _sweep.Cell("reduction", "max", "(10,)", "float64", 4.0, 1.0, repeat=0.5),
        _sweep.Cell("reduction", "min", "(10,)", "float64", 1.0, 3.0),
        _sweep.Cell("moving", "move_max", "(10,) w=3", "float32", 1.0, 2.0),
    ]
    lines = _sweep.report(cells, worst=2, others=1).splitlines()
    # The reductions' two worst, then the moving windows' one, each family worst first.
    assert [line.split()[1] for line in lines[1:4]] == ["max", "sum", "move_sum"]
    assert lines[1].split()[-2:] == ["0.25x", "0.50x"]
    assert lines[2].split()[-2:] == ["0.50x", "1.30x"]
    assert lines[3].split()[-2:] == ["0.25x", "0.30x"]
    assert lines[4] == (
        "reduction: 3 cells, median 0.50x, worst 0.25x, 2 below 1.0x (1 below on their repeat too)"
    )
    assert lines[5] == (
        "moving: 2 cells, median 1.12x, worst 0.25x, 1 below 1.0x (1 below on their repeat too)"
    )
    assert len(lines) == 6
