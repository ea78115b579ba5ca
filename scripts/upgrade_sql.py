#!/usr/bin/env python3
"""Writes the upgrade script between two full extension scripts.

    upgrade_sql.py OLD.sql NEW.sql FROM TO [MANUAL.sql] > vecstore--FROM--TO.sql

Both scripts are split into statements (comments, quoted strings and
dollar quotes respected) and compared as normalised text:
  * a statement of NEW that OLD lacks is emitted, in NEW's order (pgrx orders
    the full script by dependency, and everything of OLD exists already);
  * a function whose signature is in both but whose definition changed is
    emitted as CREATE OR REPLACE FUNCTION; a changed COMMENT ON is re-emitted;
  * a statement of OLD that NEW lacks (an object removed or redefined in a way
    CREATE cannot repeat) cannot be written automatically: without MANUAL (a
    hand-written script that drops or alters those objects, copied first) the
    generator lists them and exits 1.
scripts/upgrade-sql.sh runs it; tests/upgrade checks the result by upgrading
a 0.1.0 database and comparing its catalog with a fresh install's.
"""
import re
import sys


def statements(sql):
    """Splits SQL text into (normalised, as written) statements without comments."""
    out, cur, i, n = [], [], 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            i = sql.find("\n", i)
            i = n if i < 0 else i
            continue
        if sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            cur.append(" ")
            continue
        if c in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == c and sql.startswith(c * 2, j):
                    j += 2
                elif sql[j] == c:
                    break
                else:
                    j += 1
            cur.append(sql[i:j + 1])
            i = j + 1
            continue
        m = re.match(r"\$[A-Za-z_0-9]*\$", sql[i:]) if c == "$" else None
        if m:
            j = sql.find(m.group(0), i + len(m.group(0)))
            j = n if j < 0 else j + len(m.group(0))
            cur.append(sql[i:j])
            i = j
            continue
        if c == ";":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    raw = [re.sub(r"[ \t]+\n", "\n", re.sub(r"\n\s*\n", "\n", s)).strip() for s in out]
    return [(normalise(s), s) for s in raw if normalise(s)]


def normalise(stmt):
    """Collapses whitespace outside quotes (quoted text kept as written)."""
    parts = re.split(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$[A-Za-z_0-9]*\$.*?\$[A-Za-z_0-9]*\$)", stmt, flags=re.S)
    for k in range(0, len(parts), 2):
        parts[k] = re.sub(r"\s+", " ", parts[k])
        parts[k] = re.sub(r"\s*([(),])\s*", r"\1", parts[k])
    return "".join(parts).strip()


def operator(stmt):
    """(name, options) of a normalised CREATE OPERATOR, else None."""
    m = re.match(r"CREATE OPERATOR (\S+?)\s*\((.*)\)$", stmt, re.I | re.S)
    if not m:
        return None
    opts = {}
    for part in re.findall(r"(?:'[^']*'|[^,])+", m.group(2)):
        k, _, v = part.partition("=")
        opts[k.strip().upper()] = v.strip()
    return m.group(1), opts


def key(stmt):
    """Identity of the object a statement defines (text, if not a function,
    operator or comment)."""
    m = re.match(r"CREATE (?:OR REPLACE )?FUNCTION ([^(]+\([^)]*\))", stmt, re.I)
    if m:
        return "FUNCTION " + m.group(1)
    op = operator(stmt)
    if op:
        return f"OPERATOR {op[0]}({op[1].get('LEFTARG', 'NONE')},{op[1].get('RIGHTARG', 'NONE')})"
    m = re.match(r"(COMMENT ON .*?) ?IS (?:'|NULL)", stmt, re.I | re.S)
    if m:
        return m.group(1)
    return stmt


def alter_operator(old, new):
    """ALTER OPERATOR for an operator whose estimators alone changed (the
    only options ALTER OPERATOR can set that a CREATE could differ in);
    None if anything else changed."""
    a, b = operator(old), operator(new)
    if not a or not b or a[0] != b[0]:
        return None
    settable = ("RESTRICT", "JOIN")
    if {k: v for k, v in a[1].items() if k not in settable} != {k: v for k, v in b[1].items() if k not in settable}:
        return None
    sets = ", ".join(f"{k} = {b[1].get(k, 'NONE')}" for k in settable if a[1].get(k) != b[1].get(k))
    left, right = b[1].get("LEFTARG", "NONE"), b[1].get("RIGHTARG", "NONE")
    return f"ALTER OPERATOR {b[0]} ({left}, {right}) SET ({sets})"


def upgrade(old_sql, new_sql, old_v, new_v, manual=None):
    """Returns (script, removed statements)."""
    old, new = statements(old_sql), statements(new_sql)
    old_by_key = {key(s): s for s, _ in old}
    new_keys = {key(s) for s, _ in new}
    body, changed = [], set()
    for s, raw in new:
        k = key(s)
        if k not in old_by_key:
            body.append(raw)
        elif old_by_key[k] != s:
            alter = alter_operator(old_by_key[k], s)
            if alter is not None:
                body.append(alter)
            elif k.startswith("OPERATOR "):
                changed.add(k)
            else:
                body.append(re.sub(r"^CREATE\s+(OR\s+REPLACE\s+)?FUNCTION", "CREATE OR REPLACE FUNCTION", raw, flags=re.I))
    removed = [raw for s, raw in old if key(s) not in new_keys or key(s) in changed]
    head = [
        f"-- vecstore {old_v} -> {new_v}. Generated by scripts/upgrade-sql.sh from",
        f"-- sql/releases/vecstore--{old_v}.sql and the {new_v} source: do not edit, rerun it.",
        f"-- {len(body)} statement(s).",
        '\\echo Use "ALTER EXTENSION vecstore UPDATE" to load this file. \\quit',
        "",
    ]
    if manual is not None:
        head += ["-- hand-written part (removed or redefined objects)", manual.strip(), "", "-- generated part"]
    return "\n".join(head + [s + ";" for s in body]) + "\n", removed


def main(argv):
    if len(argv) not in (5, 6):
        sys.exit(__doc__)
    old_sql, new_sql = (open(p).read() for p in argv[1:3])
    manual = open(argv[5]).read() if len(argv) == 6 else None
    script, removed = upgrade(old_sql, new_sql, argv[3], argv[4], manual)
    if removed:
        print(f"upgrade_sql.py: {len(removed)} statement(s) of {argv[3]} are gone or changed in {argv[4]}:",
              file=sys.stderr)
        for s in removed:
            print("   ", s[:160], file=sys.stderr)
        if manual is None:
            print("write sql/upgrade-manual/vecstore--FROM--TO.sql to drop or alter them; nothing written",
                  file=sys.stderr)
            sys.exit(1)
    sys.stdout.write(script)


if __name__ == "__main__":
    main(sys.argv)
