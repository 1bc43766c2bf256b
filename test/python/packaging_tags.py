"""Print, as JSON, the tags the `packaging` library says a target host accepts, best first.

Reads {"version": "3.11", "implementation": "cp", "abi": "cp311", "platforms": ["manylinux_2_36_x86_64"]} on stdin. A
manylinux_2_N platform stands for a host with glibc 2.N, musllinux_1_N for musl 1.N: packaging is
told so and then enumerates exactly what sys_tags() would on that host.
"""
import inspect
import json
import re
import sys

try:
    from packaging import _manylinux, _musllinux, tags
except ImportError:  # pip's vendored copy
    from pip._vendor.packaging import _manylinux, _musllinux, tags

target = json.load(sys.stdin)
major, minor = (int(x) for x in target["version"].split("."))
platforms = []
for p in target["platforms"]:
    legacy = {"manylinux1": "2_5", "manylinux2010": "2_12", "manylinux2014": "2_17"}
    m = re.match(r"^(manylinux1|manylinux2010|manylinux2014)_(.+)$", p)
    if m:
        p = "manylinux_%s_%s" % (legacy[m.group(1)], m.group(2))
    many = re.match(r"^manylinux_(\d+)_(\d+)_(.+)$", p)
    musl = re.match(r"^musllinux_(\d+)_(\d+)_(.+)$", p)
    if many:
        glibc = (int(many.group(1)), int(many.group(2)))
        arch = many.group(3)
        _manylinux._get_glibc_version = lambda glibc=glibc: glibc
        params = list(inspect.signature(_manylinux.platform_tags).parameters)
        if params[0] == "linux":
            platforms += list(_manylinux.platform_tags("linux_" + arch, arch))
        else:
            platforms += list(_manylinux.platform_tags([arch]))
        platforms.append("linux_" + arch)
    elif musl:
        version = _musllinux._MuslVersion(int(musl.group(1)), int(musl.group(2)))
        arch = musl.group(3)
        _musllinux._get_musl_version = lambda executable, version=version: version
        params = list(inspect.signature(_musllinux.platform_tags).parameters)
        if params[0] == "arch":
            platforms += list(_musllinux.platform_tags(arch))
        else:
            platforms += list(_musllinux.platform_tags([arch]))
        platforms.append("linux_" + arch)
    else:
        platforms.append(p)

impl = target.get("implementation", "cp")
if impl == "cp":
    abi = target.get("abi") or ("cp%d%d%s" % (major, minor, "m" if (major, minor) < (3, 8) else ""))
    result = list(tags.cpython_tags((major, minor), [abi], platforms)) + list(
        tags.compatible_tags((major, minor), "cp%d%d" % (major, minor), platforms)
    )
else:
    # sys_tags() on another interpreter: generic_tags, whose ABI (when none is given) is the host's, from
    # its sysconfig SOABI (packaging 21.3, pip 23.2's) or EXT_SUFFIX (later packaging); PyPy 7.3 (every
    # PyPy 3.x release since 2020) reports "pypy39-pp73" and ".pypy39-pp73-x86_64-linux-gnu.so"
    import sysconfig
    soabi = "pypy%d%d-pp73" % (major, minor) if impl == "pp" else None
    host = {"SOABI": soabi, "EXT_SUFFIX": ".%s-x86_64-linux-gnu.so" % soabi if soabi else ".so"}
    real = sysconfig.get_config_var
    sysconfig.get_config_var = lambda name: host[name] if name in host else real(name)
    abis = [target["abi"]] if target.get("abi") else None
    result = list(tags.generic_tags("%s%d%d" % (impl, major, minor), abis, platforms)) + list(
        tags.compatible_tags((major, minor), "pp%d" % major if impl == "pp" else "%s%d%d" % (impl, major, minor), platforms)
    )
seen = []
for t in result:
    s = str(t)
    if s not in seen:
        seen.append(s)
print(json.dumps(seen))
