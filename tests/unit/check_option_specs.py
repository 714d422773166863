#!/usr/bin/python3
"""check_option_specs.py: the option specs of src/auth/command.c (OPTS_*) against the
getopt_long tables of the command sources they name (issue 9, defect 3).

The api and the command line read an argument vector with one parser
(auth_command_parse), which only accepts options spelled out in full and given once; the
command itself then reads the same vector with getopt_long. The two readings agree only
if each spec lists exactly the options of the getopt table, with the same arity (a flag
read as taking a value would shift every later argument). This test fails when a source
table gains, loses or changes an option and the spec does not follow.

Usage: check_option_specs.py SOURCE_ROOT
"""
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
text = open(f"{root}/src/auth/command.c", encoding="utf-8").read()

# #define OPTS_X /* src/cmd/file.c function */ "..." "..."
specs = {}
for m in re.finditer(r'#define (OPTS_\w+) /\* (\S+) (\w+) \*/ \\\n((?:\s*"[^"]*"\s*\\?\n)+)', text):
    name, path, func, body = m.groups()
    spec = "".join(re.findall(r'"([^"]*)"', body))
    specs[name] = (path, func, spec)

if len(specs) < 8:
    sys.exit(f"found only {len(specs)} OPTS_* specs in command.c: the format changed?")

used = set(re.findall(r"\.options = (OPTS_\w+)", text))
unused = set(specs) - used
if unused:
    sys.exit(f"specs not used by any command: {sorted(unused)}")

failed = False
for name, (path, func, spec) in sorted(specs.items()):
    src = open(f"{root}/{path}", encoding="utf-8").read()
    # The function's body up to its option table's terminator.
    at = src.find(f"{func}(")
    while at >= 0 and not re.match(r"[^;{]*\)\s*\{", src[at:at + 400], re.S):
        at = src.find(f"{func}(", at + 1)
    if at < 0:
        sys.exit(f"{name}: function {func} not found in {path}")
    table = re.search(r"struct option \w+\[\] = \{(.*?)\{ NULL, 0, NULL, 0 \}", src[at:], re.S)
    if table is None:
        sys.exit(f"{name}: no option table in {func} ({path})")
    getopt = {}
    for o, arg in re.findall(r'\{ "([^"]+)", (no_argument|required_argument|optional_argument)',
                             table.group(1)):
        if arg == "optional_argument":
            print(f"{name}: --{o} has an optional argument, which the parser cannot mirror")
            failed = True
        getopt[o] = arg == "required_argument"
    ours = {}
    for tok in spec.split():
        value = tok.endswith("=")
        ours[tok.lstrip("/*").rstrip("=")] = value
    for o in sorted(set(getopt) | set(ours)):
        if o not in ours:
            print(f"{name}: --{o} is in {path} {func} but not in the spec")
            failed = True
        elif o not in getopt:
            print(f"{name}: --{o} is in the spec but not in {path} {func}")
            failed = True
        elif ours[o] != getopt[o]:
            print(f"{name}: --{o} takes a value in {'the spec' if ours[o] else path}, "
                  f"not in {path if ours[o] else 'the spec'}")
            failed = True

if failed:
    sys.exit(1)
print(f"{len(specs)} option specs match their getopt_long tables")
