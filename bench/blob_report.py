#!/usr/bin/python3
"""Turn bench/blob.sh's samples into results JSON + markdown and print
PASS/FAIL per target. Standard library only."""
import argparse
import json
import statistics
import sys

GIB = 1 << 30
MIB = 1 << 20
BLOCK_MIB = 8  # blocks 1..2048 of a kvseal blob (docs/BLOB.md)
READAHEAD_MIB = 8  # KVS_BLOB_READAHEAD_DEFAULT (src/blob/source.h)
PARALLEL = 4  # --blob-parallel default
PROCESS_MIB = 16  # kvseal's own RSS without buffers (~8-12 MiB, docs/PERFORMANCE.md), rounded up
SDKS = [("sdk-md5", "validate_content=True (an MD5 per request, like kvseal)"),
        ("sdk", "validate_content=False (no MD5)")]


def load(work):
    samples = []
    with open(work + "/samples.tsv") as f:
        for line in f:
            i, r, b, w, u, s, m, srv, iw, ic = line.rstrip("\n").split("\t")
            samples.append({"id": i, "round": int(r), "bytes": int(b), "wall_s": int(w) / 1e6,
                            "cpu_s": float(u) + float(s), "user_s": float(u), "sys_s": float(s),
                            "maxrss_kib": int(m), "server_cpu_s": float(srv),
                            "inner_wall_s": None if iw == "-" else float(iw),
                            "inner_cpu_s": None if ic == "-" else float(ic)})
    notes = {}
    with open(work + "/notes.tsv") as f:
        for line in f:
            k, v = line.rstrip("\n").split("\t", 1)
            notes[k] = v
    versions = {}
    with open(work + "/versions.tsv") as f:
        for line in f:
            k, v = line.rstrip("\n").split("\t", 1)
            versions[k] = v
    return samples, notes, versions


def main():
    ap = argparse.ArgumentParser()
    for a in ("--work", "--json", "--md"):
        ap.add_argument(a, required=True)
    for a in ("--size", "--runs", "--quick", "--rss-small", "--threads"):
        ap.add_argument(a, type=int, required=True)
    a = ap.parse_args()
    samples, notes, versions = load(a.work)
    by = {}
    for s in samples:
        by.setdefault(s["id"], {})[s["round"]] = s

    def per_gib(cid, key):
        return statistics.median(s[key] * GIB / s["bytes"] for s in by[cid].values())

    cases = {}
    for cid in sorted(by):
        if cid.startswith("rss/"):
            continue
        wall = per_gib(cid, "wall_s")
        inner = [s for s in by[cid].values() if s["inner_wall_s"] is not None]
        cases[cid] = {
            "wall_s_per_gib": wall,
            "cpu_s_per_gib": per_gib(cid, "cpu_s"),
            "mb_per_s": GIB / 1e6 / wall,
            "server_cpu_s_per_gib": per_gib(cid, "server_cpu_s"),
            "max_rss_mib": max(s["maxrss_kib"] for s in by[cid].values()) / 1024,
            "inner_wall_s_per_gib": statistics.median(s["inner_wall_s"] * GIB / s["bytes"] for s in inner) if inner else None,
            "inner_cpu_s_per_gib": statistics.median(s["inner_cpu_s"] * GIB / s["bytes"] for s in inner) if inner else None,
        }

    def ratio(a_id, b_id, key, inverse):
        vals = []
        for r, s in by[a_id].items():
            o = by[b_id][r]
            vals.append(o[key] / s[key] if inverse else s[key] / o[key])
        return statistics.median(vals)

    targets = []
    ratios = {}
    for op, kid, sop in (("encrypt to blob", "kvseal/encrypt", "upload"), ("restore from blob", "kvseal/restore", "download")):
        for sdk, _ in SDKS:
            sid = "%s/%s" % (sdk, sop)
            thr = ratio(kid, sid, "wall_s", True)   # kvseal throughput / SDK throughput
            cpu = ratio(kid, sid, "cpu_s", False)   # kvseal CPU / SDK CPU
            ratios["%s vs %s" % (kid, sid)] = {"throughput": thr, "cpu": cpu}
            targets.append(("%s: throughput >= 1.0 x SDK %s_blob (%s)" % (op, sop, sdk), "%.2f" % thr, thr >= 1.0))
            targets.append(("%s: client CPU <= 0.25 x SDK %s_blob (%s)" % (op, sop, sdk), "%.2f" % cpu, cpu <= 0.25))

    # Peak RSS: the bound the code states, and the same for every size.
    t = a.threads
    enc_bound = (t + 2 + PARALLEL) * BLOCK_MIB + PROCESS_MIB
    res_bound = READAHEAD_MIB + (3 * t + 2) * 1 + PROCESS_MIB
    rss = {}
    for op, kid in (("encrypt", "kvseal/encrypt"), ("restore", "kvseal/restore")):
        rss[op] = {"%d MiB" % (a.size // MIB): max(s["maxrss_kib"] for s in by[kid].values()) / 1024}
        for cid in by:
            if cid.startswith("rss/%s/" % op):
                s = by[cid][1]
                rss[op]["%d MiB" % (s["bytes"] // MIB)] = s["maxrss_kib"] / 1024
    for op, bound in (("encrypt", enc_bound), ("restore", res_bound)):
        peak = max(rss[op].values())
        targets.append(("%s peak RSS <= %d MiB for %s" % (op, bound, ", ".join(rss[op])), "%.1f MiB" % peak, peak <= bound))
    bounds = {
        "encrypt_mib": enc_bound,
        "encrypt_formula": "(threads %d + 2 + parallel %d) blocks x %d MiB + %d MiB process" % (t, PARALLEL, BLOCK_MIB, PROCESS_MIB),
        "restore_mib": res_bound,
        "restore_formula": "read-ahead %d MiB + (3 x threads %d + 2) x 1 MiB chunk buffers + %d MiB process" % (READAHEAD_MIB, t, PROCESS_MIB),
    }

    doc = {"size_bytes": a.size, "runs": a.runs, "quick": bool(a.quick), "threads": t,
           "versions": versions, "notes": notes, "cases": cases, "ratios": ratios,
           "rss_mib": rss, "rss_bounds": bounds,
           "targets": [{"target": n, "measured": m, "pass": p} for n, m, p in targets],
           "samples": samples}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)

    L = []
    L.append("# kvseal and Blob Storage (Azurite): %d MiB, %d rounds" % (a.size // MIB, a.runs))
    L.append("")
    L.append("Medians over rounds, per GiB of plaintext. CPU = user + sys of the client process")
    L.append("(GNU time); Azurite CPU = the emulator's CPU over the same span. SDK: azure-storage-blob")
    L.append("%s, upload_blob / download_blob with max_concurrency=4, one process per call" % versions.get("azure-storage-blob", "?"))
    L.append("(start-up and imports included; 'transfer only' excludes them).")
    L.append("")
    L.append("| case | wall s/GiB | MB/s | client CPU s/GiB | transfer only: wall / CPU s/GiB | Azurite CPU s/GiB | peak RSS MiB |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    order = ["kvseal/encrypt", "sdk-md5/upload", "sdk/upload", "kvseal/restore", "sdk-md5/download", "sdk/download"]
    for cid in order:
        c = cases.get(cid)
        if not c:
            continue
        inner = "%.2f / %.2f" % (c["inner_wall_s_per_gib"], c["inner_cpu_s_per_gib"]) if c["inner_wall_s_per_gib"] is not None else "–"
        L.append("| %s | %.2f | %.0f | %.2f | %s | %.2f | %.1f |" % (
            cid, c["wall_s_per_gib"], c["mb_per_s"], c["cpu_s_per_gib"], inner, c["server_cpu_s_per_gib"], c["max_rss_mib"]))
    L.append("")
    L.append("sdk-md5: %s; sdk: %s." % (SDKS[0][1], SDKS[1][1]))
    L.append("")
    L.append("## Targets (median over rounds of the within-round ratio)")
    L.append("")
    L.append("| target | measured | result |")
    L.append("| --- | ---: | :---: |")
    for n, m, p in targets:
        L.append("| %s | %s | %s |" % (n, m, "PASS" if p else "FAIL"))
    L.append("")
    L.append("## kvseal's peak RSS by size (MiB)")
    L.append("")
    sizes = sorted({k for op in rss for k in rss[op]}, key=lambda k: int(k.split()[0]))
    L.append("| | " + " | ".join(sizes) + " | bound |")
    L.append("| --- |" + " ---: |" * (len(sizes) + 1))
    for op, bound in (("encrypt", enc_bound), ("restore", res_bound)):
        L.append("| %s | %s | %d |" % (op, " | ".join("%.1f" % rss[op][k] if k in rss[op] else "–" for k in sizes), bound))
    L.append("")
    L.append("RSS bounds: encrypt %s = %d MiB; restore %s = %d MiB." % (
        bounds["encrypt_formula"], enc_bound, bounds["restore_formula"], res_bound))
    L.append("")
    L.append("## Notes")
    L.append("")
    for k, v in list(notes.items()) + list(versions.items()):
        L.append("- %s: %s" % (k, v))
    with open(a.md, "w") as f:
        f.write("\n".join(L) + "\n")

    for n, m, p in targets:
        print("%s  %s  (%s)" % ("PASS" if p else "FAIL", n, m))
    print("%d of %d targets met" % (sum(p for _, _, p in targets), len(targets)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
