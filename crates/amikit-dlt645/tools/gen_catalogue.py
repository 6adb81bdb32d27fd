#!/usr/bin/env python3
"""Generates src/catalogue/generated.rs from the shared identifier data.

Usage: python3 tools/gen_catalogue.py [PATH-TO/dlt645-2007-identifiers.json]
(default: ../../../shared/data/dlt645-2007-identifiers.json relative to this crate).

Input: `dlt645-2007-identifiers.json`, the DI map of the PyPI package dlt645 3.2.0 (author
Chen Dongyu, Apache-2.0), re-expressed as JSON. This script

1. applies the file's `errata` that concern whole entries (sign, unit, name);
2. makes amikit's own decisions explicit (marked AMIKIT below): the read/write column, the
   sign of maximum demand, which formats are bit words / ASCII / digit strings, records that
   are kept raw;
3. compresses the 20,286 entries into range rules (DI1 range x DI0 range) whose names are
   templates: `{P}` = period prefix (（当前） for DI0 = 0, （上N结算日） otherwise), `{0}` = DI0
   in decimal, `{1}` = DI1 in decimal, `{S}` = English settlement suffix;
4. checks that rendering every rule reproduces every entry's (corrected) name, format, unit
   and sign exactly, and fails otherwise.

The output is committed; rerun after changing this script or the data.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)
DEFAULT = os.path.join(CRATE, "..", "..", "..", "shared", "data", "dlt645-2007-identifiers.json")
OUT = os.path.join(CRATE, "src", "catalogue", "generated.rs")

UNITS = {
    None: "None", "kWh": "KWh", "kvarh": "Kvarh", "kVAh": "KVAh", "kW": "KW", "kvar": "Kvar",
    "kVA": "KVA", "V": "V", "A": "A", "Hz": "Hz", "℃": "Celsius", "°": "Degree", "%": "Percent",
    "分": "Minute", "min": "Minute", "秒": "Second", "毫秒": "Millisecond",
    # counts and field descriptions carry no unit
    "个": "None", "次": "None", "位": "None", "年月日星期": "None", "时分秒": "None",
    "年月日时分": "None",
}

# English names derived from the structure (DI2 of families 00/01; DI of family 02).
EN_KIND = {
    0x00: "combined active", 0x01: "forward active", 0x02: "reverse active",
    0x03: "combined reactive 1", 0x04: "combined reactive 2", 0x05: "quadrant I reactive",
    0x06: "quadrant II reactive", 0x07: "quadrant III reactive", 0x08: "quadrant IV reactive",
    0x09: "forward apparent", 0x0A: "reverse apparent",
}
EN_EXTRA = {
    0x80: "associated total", 0x81: "forward active fundamental total",
    0x82: "reverse active fundamental total", 0x83: "forward active harmonic total",
    0x84: "reverse active harmonic total", 0x85: "copper-loss active total compensation",
    0x86: "iron-loss active total compensation",
}
EN_PHASE_EXTRA = {
    0: "associated", 1: "forward active fundamental", 2: "reverse active fundamental",
    3: "forward active harmonic", 4: "reverse active harmonic",
    5: "copper-loss active compensation", 6: "iron-loss active compensation",
}
EN_VAR = {
    0x01: "{ph} voltage", 0x02: "{ph} current", 0x03: "{tp} active power",
    0x04: "{tp} reactive power", 0x05: "{tp} apparent power", 0x06: "{tp} power factor",
    0x07: "{ph} phase angle", 0x08: "{ph} voltage distortion", 0x09: "{ph} current distortion",
}
EN_802 = {
    0x01: "neutral current", 0x02: "grid frequency", 0x03: "one-minute average total active power",
    0x04: "current active demand", 0x05: "current reactive demand", 0x06: "current apparent demand",
    0x07: "meter temperature", 0x08: "clock battery voltage (internal)",
    0x09: "meter-reading battery voltage (external)", 0x0A: "internal battery working time",
}
EN_PARAM = {
    0x04000101: "date and weekday", 0x04000102: "time", 0x04000103: "maximum demand period",
    0x04000104: "slip time", 0x04000401: "communication address", 0x04000402: "meter number",
    0x04000403: "asset number", 0x04000409: "active constant", 0x0400040A: "reactive constant",
    0x0400040D: "protocol version",
}
for n in range(1, 8):
    EN_PARAM[0x04000500 + n] = "status word %d" % n
PHASES = {1: "phase A", 2: "phase B", 3: "phase C"}


def phase_of_energy(di2):
    """(phase letter index, base kind) for DI2 of per-phase energy/demand items."""
    for p, base in ((1, 0x15), (2, 0x29), (3, 0x3D)):
        if base <= di2 <= base + 9:
            return p, di2 - base + 0x01  # 15 -> forward active (01)
    for p, base in ((1, 0x94), (2, 0xA8), (3, 0xBC)):
        if base <= di2 <= base + 6:
            return p, ("x", di2 - base)
    return None, None


def english(di, family):
    di3, di2, di1, di0 = (di >> 24) & 0xFF, (di >> 16) & 0xFF, (di >> 8) & 0xFF, di & 0xFF
    if family in ("energy", "demand"):
        what = "energy" if family == "energy" else "max demand"
        if di2 in EN_KIND:
            part = "total" if di1 == 0 else "tariff {1}"
            return "%s %s %s{S}" % (EN_KIND[di2], part, what)
        if di2 in EN_EXTRA and family == "energy":
            return "%s energy{S}" % EN_EXTRA[di2]
        p, kind = phase_of_energy(di2)
        if p is not None:
            if isinstance(kind, tuple):
                return "%s %s energy{S}" % (PHASES[p], EN_PHASE_EXTRA[kind[1]])
            return "%s %s %s{S}" % (PHASES[p], EN_KIND[kind], what)
        return None
    if family == "variable":
        if di2 == 0x80:
            return EN_802.get(di0)
        if di2 in EN_VAR:
            ph = PHASES.get(di1)
            tp = "total" if di1 == 0 else ph
            return EN_VAR[di2].format(ph=ph, tp=tp)
        if di2 in (0x0A, 0x0B):
            return "%s %s harmonic {0} content" % (PHASES[di1], "voltage" if di2 == 0x0A else "current")
        return None
    if family == "parameter":
        if (di >> 8) == 0x04000C:
            return "level %d password" % (di0 - 1)
        return EN_PARAM.get(di)
    return None


def apply_errata(data):
    entries = {e["di"]: e for e in data["identifiers"]}
    for err in data["errata"]:
        if err["where"] != "entry":
            continue  # member-level errata: records are kept raw (see format_of)
        rx = re.compile(err["di_regex"])
        hits = [e for di, e in entries.items() if rx.match(di)]
        assert len(hits) == err["matches"], (err["id"], len(hits))
        for e in hits:
            if err["field"] == "signed":
                e["signed"] = err["expected"]
            elif err["field"] == "unit":
                e["unit"] = err["expected"]
            elif err["field"] == "name_zh":
                e["name_zh"] = err["expected"]
            else:
                raise SystemExit("unhandled erratum " + err["id"])
    return entries


RAW_RECORD_UNSETTLED = re.compile(r"^(033005|030E0[1-3]|030F0[1-3])")


def format_of(e):
    """Rust `Format` expression for an entry (AMIKIT decisions documented inline)."""
    di = int(e["di"], 16)
    fmt, length, name = e["format"], e["length"], e["name_zh"]
    if "fields" in e or "," in fmt:
        # Multi-member records and time-zone/day tables: raw bytes of the stated length, except
        # the layouts the data README calls unsettled (variable length, not validated).
        if RAW_RECORD_UNSETTLED.match(e["di"]) or length > 255:
            # (> 255 bytes: only readable in several follow-up frames; length not checked)
            return "Format { kind: Kind::Raw, len: 0 }"
        return "Format { kind: Kind::Raw, len: %d }" % length
    if e["family"] == "demand":
        # AMIKIT: value XX.XXXX then YYMMDDhhmm (8 bytes). Only combined reactive maximum demand
        # keeps a sign (by analogy with the energy note N); forward/reverse/quadrant/apparent
        # maximum demands are directional quantities and unsigned.
        di2 = (di >> 16) & 0xFF
        signed = di2 in (0x03, 0x04, 0x17, 0x18, 0x2B, 0x2C, 0x3F, 0x40)
        return "Format { kind: Kind::Demand { signed: %s }, len: 8 }" % ("true" if signed else "false")
    times = {"YYMMDDhhmmss": "YyMmDdHhMmSs", "YYMMDDhhmm": "YyMmDdHhMm", "YYMMDDWW": "YyMmDdWw",
             "hhmmss": "HhMmSs", "MMDDhhmm": "MmDdHhMm", "DDhh": "DdHh", "YYMMDDNN": "YyMmDdNn",
             "MMDDNN": "MmDdNn", "hhmmNN": "HhMmNn"}
    if fmt in times:
        return "Format::time(TimeLayout::%s)" % times[fmt]
    if "ASCII" in name:
        return "Format { kind: Kind::Ascii, len: %d }" % length
    if "特征字" in name or "模式字" in name or "状态字" in name or (di >> 16) == 0x0404:
        # feature/mode/status words and display-item identifiers are bit words
        return "Format { kind: Kind::Word, len: %d }" % length
    if "密码" in name:
        return "Format { kind: Kind::Raw, len: %d }" % length  # password: level + 3 bytes
    if fmt in ("NNNNNNNNNNNN",):
        return "Format { kind: Kind::Digits, len: %d }" % length  # address, meter number
    if re.fullmatch(r"[XN]+(\.[XN]+)?", fmt):
        dec = len(fmt.split(".")[1]) if "." in fmt else 0
        assert dec == e["decimals"], e
        return "Format { kind: Kind::Number { decimals: %d, signed: %s }, len: %d }" % (
            dec, "true" if e["signed"] else "false", length)
    raise SystemExit("unhandled format %r in %s" % (fmt, e["di"]))


def access_of(e):
    """AMIKIT: read/write column (the package has none). Families 00-03 are read-only; 04
    parameters read/write except status words, the factory ASCII/constant items and the
    manufacturer items (read-only) and passwords (write-only)."""
    di = int(e["di"], 16)
    if e["family"] != "parameter":
        return "Access::Read"
    if (di >> 8) == 0x040005 or 0x04000404 <= di <= 0x0400040D or (di >> 8) == 0x048000:
        return "Access::Read"
    if (di >> 8) == 0x04000C:
        return "Access::Write"
    return "Access::ReadWrite"


PERIOD = re.compile(r"^(（当前）|（上(\d+)结算日）)")
NTH = [
    (re.compile(r"\(上(\d+)次\)"), "(上{0}次)", 0),
    (re.compile(r"\(上(\d+)月\)"), "(上{0}月)", 0),
    (re.compile(r"第(\d+)公共假日"), "第{0}公共假日", 0),
    (re.compile(r"第(\d+)屏"), "第{0}屏", 0),
    (re.compile(r"第(\d+)日时段表"), "第{0}日时段表", 0),
    (re.compile(r"(\d+)次谐波"), "{0}次谐波", 0),
    (re.compile(r"费率(\d+)"), "费率{1}", 1),
]


def template(e):
    di = int(e["di"], 16)
    di1, di0 = (di >> 8) & 0xFF, di & 0xFF
    name = e["name_zh"]
    m = PERIOD.match(name)
    if m and e["family"] in ("energy", "demand"):
        n = int(m.group(2) or 0)
        if n == di0:
            name = "{P}" + name[m.end():]
    for rx, rep, which in NTH:
        m = rx.search(name)
        if m and int(m.group(1)) == (di0 if which == 0 else di1):
            name = name[:m.start()] + rep + name[m.end():]
    return name


def render_zh(t, di):
    di1, di0 = (di >> 8) & 0xFF, di & 0xFF
    p = "（当前）" if di0 == 0 else "（上%d结算日）" % di0
    return t.replace("{P}", p).replace("{0}", str(di0)).replace("{1}", str(di1))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    data = json.load(open(path, encoding="utf-8"))
    entries = apply_errata(data)
    rows = []
    for e in entries.values():
        di = int(e["di"], 16)
        unit = e["unit"]
        if unit not in UNITS:
            raise SystemExit("unknown unit %r in %s" % (unit, e["di"]))
        rows.append({
            "di": di, "fmt": format_of(e), "unit": UNITS[unit], "access": access_of(e),
            "zh": template(e), "en": english(di, e["family"]), "name_zh": e["name_zh"],
        })
    rows.sort(key=lambda r: r["di"])
    # pass 1: DI0 runs
    rules = []
    for r in rows:
        di = r["di"]
        key = (di >> 8, r["fmt"], r["unit"], r["access"], r["zh"], r["en"])
        if rules and rules[-1]["k1"] == key and rules[-1]["d0"][1] + 1 == (di & 0xFF):
            rules[-1]["d0"][1] = di & 0xFF
        else:
            rules.append({"k1": key, "d0": [di & 0xFF, di & 0xFF], "di": di, "r": r})
    # pass 2: DI1 runs of identical DI0 ranges
    merged = []
    for ru in rules:
        di = ru["di"]
        r = ru["r"]
        key = (di >> 16, tuple(ru["d0"]), r["fmt"], r["unit"], r["access"], r["zh"], r["en"])
        if merged and merged[-1]["k2"] == key and merged[-1]["d1"][1] + 1 == ((di >> 8) & 0xFF):
            merged[-1]["d1"][1] = (di >> 8) & 0xFF
        else:
            merged.append({"k2": key, "d1": [(di >> 8) & 0xFF, (di >> 8) & 0xFF], "d0": ru["d0"],
                           "di": di, "r": r})
    merged.sort(key=lambda m: (m["di"] >> 16, m["d1"][0], m["d0"][0]))
    # check: every rule reproduces its members exactly, and nothing else
    covered = 0
    by_di = {r["di"]: r for r in rows}
    for m in merged:
        hi = m["di"] >> 16
        for d1 in range(m["d1"][0], m["d1"][1] + 1):
            for d0 in range(m["d0"][0], m["d0"][1] + 1):
                di = (hi << 16) | (d1 << 8) | d0
                r = by_di[di]
                assert render_zh(m["r"]["zh"], di) == r["name_zh"], (hex(di), m["r"]["zh"], r["name_zh"])
                assert (r["fmt"], r["unit"], r["access"]) == (m["r"]["fmt"], m["r"]["unit"], m["r"]["access"])
                covered += 1
    assert covered == len(rows) == data["count"], (covered, len(rows))

    out = []
    out.append("// @generated by tools/gen_catalogue.py — do not edit by hand.\n")
    out.append("//\n// Derived from the data tables of the Python package dlt645 3.2.0 (PyPI; author Chen Dongyu),\n"
               "// licensed under the Apache License, Version 2.0 (see LICENSE-dlt645-data-Apache-2.0.txt in\n"
               "// this crate). Changes: the package's DI map was re-expressed as JSON by the amikit project\n"
               "// (`shared/data/dlt645-2007-identifiers.json`), the file's errata applied (sign, unit,\n"
               "// names), read/write flags, value kinds and the demand sign added by amikit, and the\n"
               "// %d entries compressed into %d range rules with name templates.\n\n" % (len(rows), len(merged)))
    out.append("use super::{Access, Rule, Unit};\nuse crate::value::{Format, Kind, TimeLayout};\n\n")
    out.append("/// Rules sorted by (DI3, DI2, DI1 low, DI0 low); ranges do not overlap.\n")
    out.append("pub(super) static RULES: [Rule; %d] = [\n" % len(merged))
    for m in merged:
        r = m["r"]
        hi = m["di"] >> 16
        en = "None" if r["en"] is None else "Some(%s)" % json.dumps(r["en"], ensure_ascii=False)
        out.append(
            "    Rule {\n        key: 0x%04X,\n        di1: (0x%02X, 0x%02X),\n        di0: (0x%02X, 0x%02X),\n"
            "        format: %s,\n        unit: Unit::%s,\n        access: %s,\n"
            "        #[cfg(feature = \"names\")]\n        zh: %s,\n        #[cfg(feature = \"names\")]\n        en: %s,\n    },\n"
            % (hi, m["d1"][0], m["d1"][1], m["d0"][0], m["d0"][1], r["fmt"], r["unit"], r["access"],
               json.dumps(r["zh"], ensure_ascii=False), en))
    out.append("];\n")
    keys = []
    starts = []
    for i, m in enumerate(merged):
        k = m["di"] >> 16
        if not keys or keys[-1] != k:
            keys.append(k)
            starts.append(i)
    starts.append(len(merged))
    out.append("\n/// The distinct DI3 DI2 keys of [`RULES`], ascending.\n")
    out.append("pub(super) static KEYS: [u16; %d] = [%s];\n" % (len(keys), ", ".join("0x%04X" % k for k in keys)))
    out.append("\n/// `RULES[STARTS[i]..STARTS[i + 1]]` are the rules of `KEYS[i]`.\n")
    out.append("pub(super) static STARTS: [u16; %d] = [%s];\n" % (len(starts), ", ".join(str(x) for x in starts)))
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("".join(out))
    print("wrote %s: %d entries in %d rules" % (OUT, len(rows), len(merged)))
    # keep the committed file rustfmt-clean
    try:
        import subprocess
        subprocess.run(["rustfmt", "--edition", "2024", OUT], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("rustfmt not run (%s): format the file before committing" % e)


if __name__ == "__main__":
    main()
