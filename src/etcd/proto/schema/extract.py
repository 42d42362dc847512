#!/usr/bin/env python3
"""Writes ocpvault's protobuf schema table (schema/*.tbl) from the wire facts of the
Kubernetes 1.11 and OpenShift 3.11 API types.

Only facts are kept: message names, field numbers, field names and wire types (from
each group's generated.proto), the JSON name and whether Go omits a zero value or
stores a pointer (from the `json:` and `protobuf:` struct tags of the Go types), and
each group's name. Comments, options and layout are not carried over.

usage: extract.py OUT.tbl DIR...   (each DIR holds one group version's generated.proto)

types.tbl was written with, in that order: from kubernetes/apimachinery release-1.11
pkg/apis/meta/v1 pkg/api/resource pkg/util/intstr pkg/runtime; from kubernetes/api
release-1.11 every */* with a generated.proto except admission, imagepolicy,
authentication and authorization (not stored), in sorted order; from openshift/api
release-3.11 */v1 in sorted order (apps authorization build image network oauth
project quota route security template user).
"""
import os
import re
import sys

SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64",
           "sint32", "sint64", "double", "float", "fixed32", "fixed64"}


def strip_comments(text):
    return re.sub(r"//[^\n]*", "", text)


def parse_proto(path):
    text = strip_comments(open(path).read())
    package = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)
    messages = []
    for m in re.finditer(r"message\s+(\w+)\s*\{(.*?)\n\}", text, re.S):
        fields = []
        for f in re.finditer(
            r"(optional|repeated)?\s*(map<\s*[\w.]+\s*,\s*[\w.]+\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;",
            m.group(2),
        ):
            fields.append((f.group(1) or "", f.group(2), f.group(3), int(f.group(4))))
        messages.append((m.group(1), fields))
    return package, messages


def resolve(ty, package):
    if ty in SCALARS:
        return ty
    if ty.startswith("map<"):
        k, v = [t.strip() for t in ty[4:-1].split(",")]
        return "map:%s:%s" % (resolve(k, package), resolve(v, package))
    if "." in ty:
        return ty
    return package + "." + ty


def go_facts(directory):
    """struct name -> {field number: (json name, omitempty, pointer, inline, hidden)};
    and the names declared as Go slices or maps (`type X []T`, `type X map[K]V`)."""
    structs, slices = {}, set()
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".go") or name.endswith("_test.go") or name.startswith("zz_") \
                or name in ("generated.pb.go",) or "swagger" in name:
            continue
        text = open(os.path.join(directory, name)).read()
        for s in re.finditer(r"^type\s+(\w+)\s+(\[\]|map\[)", text, re.M):
            slices.add(s.group(1))
        bodies, current = [], None
        for line in text.split("\n"):
            start = re.match(r"^type\s+(\w+)\s+struct\s*\{\s*$", line)
            if start:
                current = (start.group(1), [])
                bodies.append(current)
            elif current is not None and line.startswith("}"):
                current = None
            elif current is not None:
                current[1].append(line)
        for name, body in bodies:
            fields = {}
            for line in body:
                line = line.strip()
                tag = re.search(r"`(.*)`", line)
                if not tag or line.startswith("//"):
                    continue
                pb = re.search(r'protobuf:"\w+,(\d+),', tag.group(1))
                if not pb:
                    continue
                js = re.search(r'json:"([^"]*)"', tag.group(1))
                js = js.group(1).split(",") if js else [""]
                head = line[: tag.start()].split()
                gotype = head[1] if len(head) > 1 else head[0]
                inline = "inline" in js[1:]
                fields[int(pb.group(1))] = (js[0], "omitempty" in js[1:],
                                            gotype.startswith("*"), inline, js[0] == "-")
            structs[name] = fields
    return structs, slices


def group_version(directory, package):
    version = os.path.basename(directory.rstrip("/"))
    group = ""
    reg = os.path.join(directory, "register.go")
    if os.path.exists(reg):
        g = re.search(r'\bGroupName\s*=\s*"([^"]*)"', open(reg).read())
        if g:
            group = g.group(1)
    return (group + "/" + version) if group else version


def main():
    out = open(sys.argv[1], "w")
    out.write("# written by extract.py from the Kubernetes 1.11 / OpenShift 3.11 wire facts\n")
    out.write("# package NAME GROUP/VERSION | message NAME [list] | NUM JSON TYPE FLAGS\n")
    out.write("# flags: r repeated, o omitempty, p pointer, i inline, h not in JSON, - none\n")
    for directory in sys.argv[2:]:
        package, messages = parse_proto(os.path.join(directory, "generated.proto"))
        structs, slices = go_facts(directory)
        out.write("package %s %s\n" % (package, group_version(directory, package)))
        for name, fields in messages:
            # A Go slice or map type stored as a message with one `items` field.
            is_list = name in slices and len(fields) == 1 and fields[0][2] == "items"
            out.write("message %s%s\n" % (name, " list" if is_list else ""))
            go = structs.get(name, {})
            for label, ty, fname, num in fields:
                jname, omit, ptr, inline, hidden = go.get(num, (fname, True, False, False, False))
                if not jname and not inline:
                    jname = fname
                flags = ("r" if label == "repeated" else "") + ("o" if omit else "") \
                    + ("p" if ptr else "") + ("i" if inline else "") + ("h" if hidden else "")
                out.write("%d %s %s %s\n" % (num, jname or fname, resolve(ty, package), flags or "-"))
    out.close()


main()
