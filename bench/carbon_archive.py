"""A synthetic archive of issued carbon forecasts for the carbon part of ``bench/shift.py``
(``--carbon-archive``): how good a zone's forecast feed would have to be.

Each hour from a day before the part's run for six days an issue forecasts the 96 hours from its
own: the zone's actual 2023 series (Electricity Maps, ``shared/data/sustaincluster-em-2023``) ×
(1 + σ · min(1, lead / 24 h) · w(t)), where w is one AR(1) path over the hours forecast (ρ 0.9,
unit variance, ``--seed``): errors that persist for hours, as weather's do, and shrink as the hour
comes closer. σ 0 gives the actual series. Not a real forecast: a yardstick for one.

    python bench/carbon_archive.py --zone AU-VIC --error 0.4 -o /tmp/arch/AU-VIC.csv
    python bench/shift.py --part carbon --carbon-hours 48 --carbon-growth 0.3 --zones AU-VIC \\
        --carbon-archive '/tmp/arch/{zone}.csv'
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suanwang.topology.series import CARBON_COLUMN, year_series  # noqa: E402

EM = Path(__file__).resolve().parents[2] / "shared" / "data" / "sustaincluster-em-2023" / "carbon_intensity"
FIRST_ISSUE = datetime(2026, 7, 14, 0)  # a day before the carbon part's start (UTC+8)
ISSUES, LEAD_H, RHO = 24 * 6, 96, 0.9


def archive(zone: str, error: float, seed: int) -> list[str]:
    series = year_series(EM / f"{zone}_2023_hourly.csv", CARBON_COLUMN)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(ISSUES + LEAD_H)
    w = np.zeros_like(z)
    for k in range(len(z)):
        w[k] = (RHO * w[k - 1] if k else 0.0) + np.sqrt(1 - RHO**2) * z[k]

    def actual(t: datetime) -> float:
        return series[int((t - datetime(t.year, 1, 1)).total_seconds() // 3600) % len(series)]

    lines = [f"Issued (UTC),Datetime (UTC),{CARBON_COLUMN}"]
    for k in range(ISSUES):
        issued = FIRST_ISSUE + timedelta(hours=k)
        for h in range(LEAD_H):
            t = issued + timedelta(hours=h)
            v = max(0.0, actual(t) * (1 + error * min(1.0, (h + 1) / 24) * w[k + h]))
            lines.append(f"{issued - timedelta(hours=8)},{t - timedelta(hours=8)},{v:.2f}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zone", required=True, help="an Electricity Maps zone of shared/data, e.g. AU-VIC")
    ap.add_argument("--error", type=float, default=0.0, help="σ: the relative error a day ahead (0: exact)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    if not 0.0 <= args.error <= 2.0:
        ap.error("--error: give 0–2")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(archive(args.zone, args.error, args.seed)) + "\n")
    print(f"{args.output}: {ISSUES} issues of {LEAD_H} h, σ {args.error:g}", file=sys.stderr)


if __name__ == "__main__":
    main()
