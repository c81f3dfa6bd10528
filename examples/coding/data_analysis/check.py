"""Success check: the chart is a real PNG and the answer states the true totals."""

import csv

from gptoss_agent.agent.task.checks import CheckContext


async def check(ctx: CheckContext) -> str:
    totals: dict[str, int] = {}
    with (ctx.data_dir / "sales.csv").open() as handle:
        for row in csv.DictReader(handle):
            totals[row["region"]] = totals.get(row["region"], 0) + int(row["amount"])
    chart = ctx.data_dir / "sales_by_region.png"
    assert chart.is_file(), "no chart was saved"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "the chart is not a PNG"
    answer = ctx.result.final_text or ""
    best = max(totals, key=totals.__getitem__)
    for region, total in totals.items():
        assert f"{region}: {total}" in answer, f"the answer misses {region}: {total}"
    assert best in answer.split("highest")[-1], "the answer does not name the best region"
    return f"chart saved; totals {totals} reported"
