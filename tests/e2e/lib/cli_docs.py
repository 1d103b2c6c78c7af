"""Compare kvseal's option tables with what documents them.

Usage: cli_docs.py LIST CLI_MD [HELP_DIR] [MAN_PAGE]

LIST is the output of `kvseal --list-options`: lines "CMD --long[ ARG][ -s]",
CMD being a command, "kvseal" (the top level) or "common" (rows every command
accepts). CLI_MD is docs/CLI.md: in the section of each command ("## CMD")
the first cell of every table row lists that command's options as
`-s`, `--long ARG`; the section "## Global options" lists the top level's
and the common ones. HELP_DIR holds CMD.txt files with `kvseal CMD --help`
(and kvseal.txt with `kvseal --help`); MAN_PAGE is the generated kvseal(1).
Every difference is printed; the exit status is the number of mismatching
sets (0: all agree).
"""
import re
import sys

GLOBAL_SECTION = "Global options"


def parse_list(path):
    tables = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            cmd, _, opt = line.rstrip("\n").partition(" ")
            tables.setdefault(cmd, set()).add(opt)
    return tables


def option_key(long_part, short):
    """One option as in the list: "--long[ ARG][ -s]"."""
    return long_part + (" -" + short if short else "")


def parse_cell(cell):
    """Options named in one table cell: `-s`, `--long ARG`, ..."""
    out, short = [], None
    for span in re.findall(r"`([^`]*)`", cell):
        if re.fullmatch(r"-[A-Za-z]", span):
            short = span[1]
        elif re.fullmatch(r"--[a-z0-9][a-z0-9-]*( [^ ]+)?", span):
            out.append(option_key(span, short))
            short = None
    return out


def parse_markdown(path):
    sections, name, fenced = {}, None, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                fenced = not fenced
            if fenced:
                continue
            m = re.match(r"## (?!#)(.*)", line)
            if m:
                name = m.group(1).strip()
                sections.setdefault(name, set())
                continue
            if name and line.startswith("|") and not re.match(r"\|\s*-", line):
                first = line.split("|")[1]
                sections[name].update(parse_cell(first))
    return sections


def parse_help(path):
    opts = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"  (?:-([A-Za-z]), |    )(--[a-z0-9-]+(?: [^ ]+)?)(?:  |$)", line)
            if m:
                opts.add(option_key(m.group(2), m.group(1)))
    return opts


def parse_man(path):
    """.SS CMD starts a command; a .TP line's tag is one option."""
    sections, name, tag_next = {"kvseal": set()}, "kvseal", False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".SS "):
                name = line[4:].strip()
                sections.setdefault(name, set())
            elif line.startswith(".TP"):
                tag_next = True
            elif tag_next:
                tag_next = False
                text = re.sub(r"\\f[BIR]", "", line).replace("\\-", "-")
                m = re.fullmatch(r"(?:-([A-Za-z]), )?(--[a-z0-9-]+(?: [^ ]+)?)", text)
                if m:
                    sections[name].add(option_key(m.group(2), m.group(1)))
    return sections


def compare(what, have, want):
    missing, extra = sorted(want - have), sorted(have - want)
    for o in missing:
        print(f"{what}: missing {o}")
    for o in extra:
        print(f"{what}: not in the program: {o}")
    return 1 if missing or extra else 0


def main():
    tables = parse_list(sys.argv[1])
    common = tables.pop("common", set())
    top = tables.pop("kvseal", set())
    if not common or not top or len(tables) < 2:
        print("the option list looks empty")
        return 1
    bad = 0
    doc = parse_markdown(sys.argv[2])
    bad += compare(f"CLI.md '## {GLOBAL_SECTION}'", doc.get(GLOBAL_SECTION, set()), top | common)
    for cmd, opts in sorted(tables.items()):
        if cmd not in doc:
            print(f"CLI.md: no section '## {cmd}'")
            bad += 1
            continue
        bad += compare(f"CLI.md '## {cmd}'", doc[cmd], opts)
    if len(sys.argv) > 3:
        hdir = sys.argv[3]
        bad += compare("kvseal --help", parse_help(f"{hdir}/kvseal.txt"), top | common)
        for cmd, opts in sorted(tables.items()):
            bad += compare(f"kvseal {cmd} --help", parse_help(f"{hdir}/{cmd}.txt"), opts | common)
    if len(sys.argv) > 4:
        man = parse_man(sys.argv[4])
        bad += compare("kvseal(1) OPTIONS", man.get("kvseal", set()), top | common)
        for cmd, opts in sorted(tables.items()):
            bad += compare(f"kvseal(1) {cmd}", man.get(cmd, set()), opts)
    return bad


if __name__ == "__main__":
    sys.exit(main())
