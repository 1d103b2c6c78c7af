#!/usr/bin/env python3
"""Report of bench/sign.sh: signed against unsigned kvseal (issue 14, item 5).

Reads the work directory (samples.tsv, notes.tsv, versions.tsv, bench.json,
speed.tsv, kv.tsv), writes the JSON and Markdown results and prints one
PASS/FAIL line per target. Ratios are signed speed / unsigned speed measured
within a round; targets are checked on their median over rounds.
"""
import argparse
import json
import os
import statistics
import sys

TARGET = 0.75


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--quick", type=int, default=0)
    ap.add_argument("--kv-files", type=int, default=0)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    a = ap.parse_args()
    w = a.work

    samples = {}  # id -> round -> sample
    for sid, rnd, nbytes, wall_us, user, sys_s, rss in read_tsv(os.path.join(w, "samples.tsv")):
        samples.setdefault(sid, {})[int(rnd)] = {
            "bytes": int(nbytes), "wall_s": int(wall_us) / 1e6, "cpu_s": float(user) + float(sys_s),
            "user_s": float(user), "sys_s": float(sys_s), "maxrss_kb": int(rss)}
    notes = dict(read_tsv(os.path.join(w, "notes.tsv")))
    versions = dict(read_tsv(os.path.join(w, "versions.tsv")))
    speed = {k: float(v) for k, v in read_tsv(os.path.join(w, "speed.tsv")) if v}
    with open(os.path.join(w, "bench.json"), encoding="utf-8") as f:
        bench = json.load(f)

    def gbps(sid, rnd):
        s = samples[sid][rnd]
        return s["bytes"] / s["wall_s"] / 1e9

    rounds = range(1, a.runs + 1)
    cases = {}
    for sid, by_round in samples.items():
        rates = [gbps(sid, r) for r in rounds if r in by_round]
        cpu = [by_round[r]["cpu_s"] for r in rounds if r in by_round]
        walls = [by_round[r]["wall_s"] for r in rounds if r in by_round]
        cases[sid] = {
            "gbps_by_round": [round(x, 3) for x in rates],
            "median_gbps": round(statistics.median(rates), 3),
            "median_wall_s": round(statistics.median(walls), 3),
            "median_cpu_s": round(statistics.median(cpu), 2),
            "median_user_s": round(statistics.median(by_round[r]["user_s"] for r in by_round), 2),
            "median_sys_s": round(statistics.median(by_round[r]["sys_s"] for r in by_round), 2),
            "max_rss_mib": round(max(by_round[r]["maxrss_kb"] for r in by_round) / 1024, 1),
        }

    def ratios(signed, unsigned):
        return [gbps(signed, r) / gbps(unsigned, r) for r in rounds]

    targets = []
    for name, signed, unsigned in (
        ("file->file encrypt --sign vs unsigned", "encrypt/signed", "encrypt/unsigned"),
        ("file->file decrypt --require-signer vs unsigned", "decrypt/require-signer", "decrypt/unsigned"),
    ):
        rs = ratios(signed, unsigned)
        med = statistics.median(rs)
        targets.append({"name": name, "ratio_by_round": [round(x, 3) for x in rs],
                        "median_ratio": round(med, 3), "target": TARGET, "pass": med >= TARGET})
    extra = {
        "decrypt signed file without --require-signer vs unsigned":
            statistics.median(ratios("decrypt/signed-not-required", "decrypt/unsigned")),
        "key-less verify vs unsigned decrypt (speed)":
            statistics.median(ratios("verify/keyless", "decrypt/unsigned")),
    }

    sg = bench.get("signed", {})
    memory = sg.get("memory", {})
    file_ = sg.get("file", {})
    kv = {}
    for row in read_tsv(os.path.join(w, "kv.tsv")):
        kv[row[0]] = json.loads(row[1]) if row[1].startswith("{") else int(row[1])
    kv_checks = []
    if a.kv_files:
        for label in ("one-process", "processes"):
            c = kv.get("%s/%d-files" % (label, a.kv_files), {})
            n = c.get("sign", 0)
            kv_checks.append({"name": "Key Vault sign calls, %d files (%s)" % (a.kv_files, label),
                              "sign_calls": n, "files": a.kv_files, "ops": c,
                              "pass": n == a.kv_files})
        v = kv.get("verify/%d-files" % a.kv_files, {})
        kv_checks.append({"name": "Key Vault sign calls while verifying %d files" % a.kv_files,
                          "sign_calls": v.get("sign", 0), "files": a.kv_files, "ops": v,
                          "pass": v.get("sign", 0) == 0})

    verify_s = samples["verify/keyless"]
    out = {
        "size_bytes": a.size, "runs": a.runs, "quick": bool(a.quick), "threads": a.threads,
        "versions": versions, "notes": notes, "cases": cases, "targets": targets,
        "other_ratios": {k: round(v, 3) for k, v in extra.items()},
        "keyless_verify_s_per_file": round(statistics.median(s["wall_s"] for s in verify_s.values()), 3),
        "openssl_speed_gbps": {k: round(v / 1e9, 3) for k, v in speed.items()},
        "bench": bench, "key_vault": kv_checks,
    }
    with open(a.json, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
        f.write("\n")

    size_mib = a.size // 1048576
    md = []
    md.append("# Signed files: signed against unsigned kvseal (%s MiB, %d rounds%s)\n"
              % (size_mib, a.runs, ", quick" if a.quick else ""))
    md.append("Written by `bench/sign.sh`. GB/s = input bytes / wall time (median over rounds); "
              "ratio = signed speed / unsigned speed within a round (median over rounds). "
              "kvseal %s.\n" % notes.get("kvseal_options", ""))
    md.append("| | |\n| --- | --- |")
    for k in ("kvseal", "commit", "openssl", "cpu", "sha_ni", "kernel", "dir"):
        md.append("| %s | %s |" % (k, versions.get(k, "")))
    for k in sorted(notes):
        if k.startswith("load") or k in ("seconds", "freed_memory"):
            md.append("| %s | %s |" % (k, notes[k]))
    md.append("")
    md.append("## Targets\n")
    md.append("| target | ratio by round | median | result |\n| --- | --- | --- | --- |")
    for t in targets:
        md.append("| %s >= %.2fx | %s | %.2fx | %s |" % (
            t["name"], t["target"], ", ".join("%.2f" % x for x in t["ratio_by_round"]),
            t["median_ratio"], "PASS" if t["pass"] else "FAIL"))
    for k in kv_checks:
        md.append("| %s: %s | %d | | %s |" % (
            k["name"], "0" if "verifying" in k["name"] else "exactly %d" % k["files"], k["sign_calls"],
            "PASS" if k["pass"] else "FAIL"))
    md.append("")
    md.append("## File to file (`kvseal encrypt` / `decrypt` / `verify`, %d threads)\n" % a.threads)
    md.append("| case | GB/s by round | median GB/s | median wall s | median CPU s (user / sys) | peak RSS MiB |")
    md.append("| --- | --- | --- | --- | --- | --- |")
    for sid in ("encrypt/unsigned", "encrypt/signed", "decrypt/unsigned", "decrypt/require-signer",
                "decrypt/signed-not-required", "verify/keyless", "yardstick/openssl-dgst-sha256"):
        c = cases.get(sid)
        if c:
            md.append("| %s | %s | %.2f | %.2f | %.2f (%.2f / %.2f) | %.0f |" % (
                sid, ", ".join("%.2f" % x for x in c["gbps_by_round"]), c["median_gbps"],
                c["median_wall_s"], c["median_cpu_s"], c["median_user_s"], c["median_sys_s"],
                c["max_rss_mib"]))
    md.append("")
    for k, v in extra.items():
        md.append("- %s: %.2fx" % (k, v))
    md.append("- key-less verification (`kvseal verify --require-signer PUB`, no `-k`): %.2f s per %d MiB file"
              % (out["keyless_verify_s_per_file"], size_mib))
    md.append("")
    md.append("## In memory (`kvseal bench --json --size %d`, %s threads, unsigned and signed alternating)\n"
              % (bench.get("engine_bytes", 0) // 1048576, sg.get("threads", "?")))
    md.append("| | unsigned encrypt | signed encrypt | ratio | unsigned decrypt | --require-signer decrypt | ratio |")
    md.append("| --- | --- | --- | --- | --- | --- | --- |")
    for label, d in (("memory (kvs_encrypt_mem)", memory), ("file to file (kvs_encrypt_fd)", file_)):
        if d:
            md.append("| %s | %.2f | %.2f | %.2fx | %.2f | %.2f | %.2fx |" % (
                label, d["unsigned"]["encrypt_gbps"], d["signed"]["encrypt_gbps"], d["encrypt_ratio"],
                d["unsigned"]["decrypt_gbps"], d["signed"]["decrypt_gbps"], d["decrypt_ratio"]))
    if sg:
        md.append("")
        md.append("- signatures per signed file: %g" % sg["signatures_per_file"])
        md.append("- key-less verification (kvs_verify_signer_fd): %.1f ms per %d MiB file (%.2f GB/s)" % (
            sg["verify"]["seconds_per_file"] * 1e3, sg["verify"]["bytes"] // 1048576, sg["verify"]["gbps"]))
        md.append("- the signature alone, ECDSA P-256: sign %.0f/s, verify %.0f/s (%.3f ms)" % (
            sg["ecdsa_p256"]["sign_ops"], sg["ecdsa_p256"]["verify_ops"],
            1e3 / sg["ecdsa_p256"]["verify_ops"] if sg["ecdsa_p256"]["verify_ops"] else 0))
        md.append("- SHA-256 in memory (1 MiB): 1 thread %.2f GB/s, %d threads %.2f GB/s" % (
            sg["sha256_gbps"]["threads_1"], sg.get("threads", 0), sg["sha256_gbps"]["threads_all"]))
    gt = bench.get("gcm_by_threads", [])
    if gt:
        md.append("- AES-256-GCM in memory (1 MiB): " + ", ".join(
            "%d thread%s %.2f GB/s" % (g["threads"], "s" if g["threads"] > 1 else "", g["gbps"]) for g in gt))
    if speed:
        md.append("- `openssl speed -elapsed -bytes 1048576 -evp` (1 process): " + ", ".join(
            "%s %.2f GB/s" % (k, v / 1e9) for k, v in speed.items()))
    if kv_checks:
        md.append("")
        md.append("## Key Vault signing key (local kvserver, EC P-256, %d files of 1 MiB)\n" % a.kv_files)
        md.append("| run | requests by operation (status 200 unless shown) |\n| --- | --- |")
        for k in kv_checks:
            md.append("| %s | %s |" % (k["name"], ", ".join("%s %s" % (o, n) for o, n in k["ops"].items())))
        for key in ("one-process-wall-us", "processes-wall-us"):
            if key in kv:
                md.append("\n- %s: %.2f s" % (key.replace("-wall-us", " wall time"), kv[key] / 1e6))
    md.append("")
    with open(a.md, "w", encoding="utf-8") as f:
        f.write("\n".join(md))

    for t in targets + kv_checks:
        value = ("%.2fx (target %.2fx)" % (t["median_ratio"], t["target"])) if "median_ratio" in t \
            else "%d sign calls for %d files" % (t["sign_calls"], t["files"])
        print("%s: %s: %s" % ("PASS" if t["pass"] else "FAIL", t["name"], value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
