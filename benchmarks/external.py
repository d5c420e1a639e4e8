"""Time and memory to analyse large torchvision and timm models by name (effnets.networks.external: built and traced
on the meta device). Each model runs in a fresh process, so its peak RSS is its own: the interpreter, torch,
torchvision and timm, plus what the analysis adds.

Run: python3 benchmarks/external.py [NAME ...]   (default: three large models, below)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["timm:efficientnet_b7", "timm:convnext_xlarge", "torchvision:regnet_y_128gf"]


def one(text: str) -> dict:
    """Analyse ``text`` in this process: seconds to import, the first analysis (names listed, built, traced), a
    second one (warm), and this process's peak RSS."""
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore")
    t = time.perf_counter()
    from effnets.networks import external

    imported = time.perf_counter() - t
    t = time.perf_counter()
    report = external.analyse(text)
    first = time.perf_counter() - t
    t = time.perf_counter()
    external.analyse(text)
    warm = time.perf_counter() - t
    return {
        "name": text,
        "input": "x".join(map(str, report.input_shape)),
        "layers": len(report.layers),
        "params": report.params,
        "macs": report.macs,
        "import_s": imported,
        "first_s": first,
        "warm_s": warm,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(names: list[str]) -> None:
    head = f"{'model':<30}{'input':>12}{'layers':>8}{'params':>15}{'MACs':>18}{'import':>8}{'first':>8}{'warm':>8}"
    head += f"{'peak RSS':>11}"
    print(head)
    print("-" * len(head))
    for text in names:
        out = subprocess.run(
            [sys.executable, __file__, "--one", text], capture_output=True, text=True, check=False, cwd=ROOT
        )
        if out.returncode:
            print(f"{text:<30} failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['name']:<30}{r['input']:>12}{r['layers']:>8}{r['params']:>15,}{r['macs']:>18,}"
            f"{r['import_s']:>7.1f}s{r['first_s']:>7.2f}s{r['warm_s']:>7.2f}s{r['peak_rss_mib']:>7.0f} MiB"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2])))
    else:
        main(sys.argv[1:] or DEFAULT)
