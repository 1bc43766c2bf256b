"""Build small wheels from JSON descriptions on stdin (one object or a list); print their file names.

{"out": DIR, "name": "alpha", "version": "1.0", "tag": "py3-none-any",
 "requires": ["beta>=1.0", "gamma; python_version < '3.8'"], "requires_python": ">=3.8",
 "extras": ["fast"], "files": {"alpha/__init__.py": "VALUE = 1\n"}, "build": "1"}

A wheel is a zip with the package files, NAME-VERSION.dist-info/METADATA, WHEEL and RECORD (each
file's urlsafe-base64 sha256). Entries have a fixed date so the same input gives the same bytes.
"""
import base64
import hashlib
import json
import os
import sys
import zipfile

def build(d):
    name, version = d["name"], d["version"]
    dist = name.replace("-", "_")
    info = "%s-%s.dist-info" % (dist, version)
    tag = d.get("tag", "py3-none-any")
    metadata = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + version]
    if d.get("requires_python"):
        metadata.append("Requires-Python: " + d["requires_python"])
    for extra in d.get("extras", []):
        metadata.append("Provides-Extra: " + extra)
    for req in d.get("requires", []):
        metadata.append("Requires-Dist: " + req)
    metadata.append("")
    metadata.append("A test package.")
    py, abi, plat = tag.split("-")
    wheel = ["Wheel-Version: 1.0", "Generator: ferry-tests", "Root-Is-Purelib: " + ("true" if plat == "any" else "false")]
    for p in py.split("."):
        for a in abi.split("."):
            for pl in plat.split("."):
                wheel.append("Tag: %s-%s-%s" % (p, a, pl))
    if d.get("build"):
        wheel.append("Build: " + d["build"])
    files = dict(d.get("files") or {dist + "/__init__.py": "NAME = %r\nVERSION = %r\n" % (name, version)})
    files[info + "/METADATA"] = "\n".join(metadata) + "\n"
    files[info + "/WHEEL"] = "\n".join(wheel) + "\n"
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append(info + "/RECORD,,")
    files[info + "/RECORD"] = "\n".join(record) + "\n"
    parts = [dist, version] + ([d["build"]] if d.get("build") else []) + [tag]
    filename = "-".join(parts) + ".whl"
    os.makedirs(d["out"], exist_ok=True)
    with zipfile.ZipFile(os.path.join(d["out"], filename), "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in files.items():
            zi = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, text)
    return filename


spec = json.load(sys.stdin)
for d in spec if isinstance(spec, list) else [spec]:
    print(build(d))
