#!/usr/bin/env python3
"""Counts the atomic (lock-prefixed, or xchg with memory) instructions a program executes.

    RINGMQ_BACKEND=epoll scripts/locked_ops.py [--top N] -- PROGRAM ARGS...

Runs PROGRAM under `valgrind --tool=callgrind --dump-instr=yes`, disassembles every object
it executed code of (`objdump -d`), and sums the executed counts of the instructions that
are atomic read-modify-writes on x86-64: those with a `lock` prefix and `xchg` with a
memory operand (implicitly locked). Prints the total instructions, the atomic ones, and
the functions executing the most of them. Compare two values of N for a per-message
figure (start-up cancels out), as with instruction counts.
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile


def run_callgrind(cmd):
    out = tempfile.NamedTemporaryFile(prefix="locked_ops.", suffix=".cg", delete=False).name
    vg = subprocess.run(
        ["valgrind", "-v", "--tool=callgrind", "--dump-instr=yes", "--dump-line=no",
         "--compress-pos=no", "--compress-strings=no", f"--callgrind-out-file={out}"] + cmd,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sys.stdout.write(vg.stdout)
    # Load bias of each object: "Reading syms from PATH" then "svma 0x..., avma 0x...".
    bias = {}
    current = None
    for line in vg.stderr.splitlines():
        m = re.search(r"Reading syms from (\S+)", line)
        if m:
            current = os.path.realpath(m.group(1))
            continue
        m = re.search(r"svma (0x[0-9a-f]+), avma (0x[0-9a-f]+)", line)
        if m and current and current not in bias:
            bias[current] = int(m.group(2), 16) - int(m.group(1), 16)
    total = re.search(r"Collected : (\d+)", vg.stderr)
    if vg.returncode != 0:
        sys.stderr.write(vg.stderr[-3000:])
        sys.exit(f"valgrind failed ({vg.returncode})")
    return out, bias, int(total.group(1)) if total else None


def executed(path):
    """(object, function, address) -> executed count, from a callgrind profile."""
    counts = collections.Counter()
    ob = fn = None
    skip_next = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if skip_next:
                skip_next = False
                continue
            if line.startswith("ob="):
                ob = os.path.realpath(line[3:])
            elif line.startswith("fn="):
                fn = line[3:]
            elif line.startswith("calls="):
                skip_next = True  # the next line is the call's inclusive cost
            elif line.startswith("0x"):
                parts = line.split()
                if len(parts) >= 2:
                    counts[(ob, fn, int(parts[0], 16))] += int(parts[1])
    return counts


def atomic_addresses(obj):
    """Addresses (unrelocated) of atomic instructions in `obj`."""
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", obj],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    found = set()
    for line in dis.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(.*)$", line)
        if not m:
            continue
        insn = m.group(2).strip()
        if insn.startswith("lock ") or (insn.startswith("xchg") and "(" in insn):
            found.add(int(m.group(1), 16))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    out, bias, total = run_callgrind(cmd)
    counts = executed(out)
    os.unlink(out)
    atomics = {}
    per_fn = collections.Counter()
    locked = 0
    for (ob, fn, addr), n in counts.items():
        if ob not in atomics:
            atomics[ob] = atomic_addresses(ob) if ob and os.path.exists(ob) else set()
        if addr - bias.get(ob, 0) in atomics[ob]:
            locked += n
            per_fn[(os.path.basename(ob), fn)] += n
    print(f"instructions: {total}")
    print(f"atomic instructions: {locked}")
    for (ob, fn), n in per_fn.most_common(a.top):
        print(f"{n:>12}  {ob}  {fn[:150]}")


if __name__ == "__main__":
    main()
