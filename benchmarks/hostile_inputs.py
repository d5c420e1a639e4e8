"""What a hostile (or just huge) network costs to analyse or refuse: architecture strings, JSON specs, ONNX graphs
and large timm models, each in a fresh process, with its wall time and peak memory (issue #13: analysed or refused
within 10 s and 2 GiB on this machine).

Peak memory is the child's peak resident set (ru_maxrss), which includes importing torch (about 0.5 GiB).

Run: python3 benchmarks/hostile_inputs.py [--only NAME,NAME]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUGE = Path("/tmp/effnets-hostile-1m-nodes.onnx")
"""Written by this script before the cases run (building it takes memory that is not the analysis's)."""

PRELUDE = """
import resource, sys, time, warnings, json
warnings.filterwarnings("ignore")
sys.path.insert(0, %r)
from effnets.spec import SpecError
t0 = time.perf_counter()
def done(outcome):
    print(json.dumps({"outcome": outcome[:110], "s": time.perf_counter() - t0,
                      "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

ONNX_HELPERS = """
import numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
from effnets.networks.onnx_graph import analyse_onnx
def conv_model(dims, relus):
    w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["r0"], name="/stem/Conv", kernel_shape=[3, 3])]
    nodes += [helper.make_node("Relu", [f"r{i}"], [f"r{i + 1}"], name=f"/body/Relu_{i}") for i in range(relus)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                          [helper.make_tensor_value_info(f"r{relus}", TensorProto.FLOAT, None)], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0)); n >>= 7
        if not n: return bytes(out)
def field(k, payload): return varint(k << 3 | 2) + varint(len(payload)) + payload
"""

ANALYSE = """
try:
    r = %s
    done(f"analysed: {r}")
except SpecError as e:
    done(f"refused: {e}")
"""

ARCH = "from effnets.networks import arch, design"
ONNX = "from effnets.networks.onnx_graph import analyse_onnx"
EXT = "from effnets.networks import external"

CASES: dict[str, tuple[str, str]] = {
    "arch: 64 KiB + 1 characters": (ARCH, "arch.decode('r224|' + 'x' * (64 * 1024))"),
    "arch: 4,000 rows just under 64 KiB": (
        "from effnets.networks import arch, design",
        "design.evaluate(arch.decode('r224|conv(c:16,k:3,s:2)|' + '|'.join(['mbconv(c:16)'] * 4000))).total.params",
    ),
    "arch: 10,000 layers (the limit)": (
        "from effnets.networks import arch, design",
        "design.evaluate(arch.decode('r224|conv(c:16,k:3,s:2)|' + '|'.join(['mbconv*1000(c:16)'] * 9 + "
        "['mbconv*999(c:16)']))).total.params",
    ),
    "arch: 10,001 layers": (ARCH, "arch.decode('r224|' + '|'.join(['mbconv*1000(c:16)'] * 10) + '|conv(c:8)')"),
    "arch: 65,536-channel convs at 4096 px": (
        "from effnets.networks import arch, design",
        "design.evaluate(arch.decode('r4096|conv(c:65536,k:31)|conv(c:65536,k:31)')).total.macs",
    ),
    "json: 100,000 nested lists": ("from effnets.networks import arch", "arch.from_json('[' * 100000 + ']' * 100000)"),
    "onnx: 200 MB of random bytes": (
        "import os\nfrom effnets.networks.onnx_graph import analyse_onnx",
        "analyse_onnx(os.urandom(200 * 1024 * 1024))",
    ),
    "onnx: 200 MB + 1 byte": (ONNX, "analyse_onnx(bytes(200 * 1024 * 1024 + 1))"),
    "onnx: 20,000 nodes (the limit)": (ONNX_HELPERS, "len(analyse_onnx(conv_model([1, 3, 6, 6], 19_999)).layers)"),
    "onnx: 1,000,000 nodes (a 43 MB file)": (ONNX, f"analyse_onnx(open({str(HUGE)!r}, 'rb').read())"),
    "onnx: If nested 10,000 deep": (
        ONNX_HELPERS,
        "analyse_onnx((lambda g: varint(8) + varint(8) + field(7, g) + field(8, varint(16) + varint(17)))("
        "__import__('functools').reduce(lambda g, _: field(1, field(4, b'If') + field(5, field(1, b'then_branch') + "
        "varint(160) + varint(5) + field(6, g))), range(10000), field(2, b'leaf'))))",
    ),
    "onnx: a 3 x 100000 x 100000 input": (ONNX_HELPERS, "analyse_onnx(conv_model([1, 3, 10**5, 10**5], 3)).macs"),
    "timm:efficientnet_b7 at 600 px": (EXT, "external.analyse('timm:efficientnet_b7').params"),
    "timm:convnext_xxlarge": (EXT, "external.analyse('timm:convnext_xxlarge').params"),
}  # fmt: skip


def run(name: str, setup: str, expr: str) -> dict:
    code = PRELUDE % str(ROOT) + textwrap.dedent(setup) + "\n" + ANALYSE % expr
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        out = {"outcome": f"CRASHED: {(p.stderr.strip().splitlines() or ['?'])[-1][:100]}", "s": wall, "rss_mib": 0}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated case names (substrings)")
    args = ap.parse_args()
    wanted = [w.strip() for w in args.only.split(",")] if args.only else None
    if not HUGE.exists():
        make = f"open({str(HUGE)!r}, 'wb').write(conv_model([1, 3, 6, 6], 999_999))"
        subprocess.run([sys.executable, "-c", PRELUDE % str(ROOT) + ONNX_HELPERS + make], check=True)
    print(f"{'case':<44}{'seconds':>9}{'peak MiB':>10}  outcome")
    worst_s = worst_mib = 0.0
    for name, (setup, expr) in CASES.items():
        if wanted and not any(w in name for w in wanted):
            continue
        r = run(name, setup, expr)
        worst_s, worst_mib = max(worst_s, r["s"]), max(worst_mib, r["rss_mib"])
        print(f"{name:<44}{r['s']:>9.2f}{r['rss_mib']:>10.0f}  {r['outcome']}", flush=True)
    ok = worst_s < 10 and worst_mib < 2048
    verdict = "within" if ok else "OVER"
    print(f"worst: {worst_s:.2f} s (imports included), {worst_mib:.0f} MiB peak: {verdict} 10 s / 2 GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
