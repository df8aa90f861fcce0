#!/usr/bin/env python3
"""Packages obsync-lambda for AWS Lambda's provided.al2023 runtime (docs/lambda.md, "Package").

    scripts/package_lambda.py --arch x86_64 --binary build-lambda-x86_64/obsync-lambda \
        --out build/lambda/obsync-lambda-x86_64.zip

The binary is linked statically against everything but glibc (OBSYNC_LAMBDA_PACKAGE=ON). This
script makes it self-contained:
- `bootstrap` (zip root): the stripped binary, its interpreter set to the bundled loader
  (/var/task/lib/ld-linux-*.so.*) and its DT_RPATH to /var/task/lib (absolute: $ORIGIN needs
  /proc, and Lambda always unpacks to /var/task);
- `lib/`: the loader and the NEEDED closure of the binary (libc.so.6, libm.so.6, ...) found
  with `readelf -d`, stripped (--strip-unneeded);
- `THIRD-PARTY-NOTICES` and `licenses/`: the bundled components and their licences.

The zip is reproducible: entries sorted, one fixed timestamp (SOURCE_DATE_EPOCH, else
1980-01-01), fixed modes (0755 for bootstrap and lib/, 0644 for text), no extra fields, deflate.

It fails (exit 1, one clear line) when a NEEDED library cannot be found, when a bundled object
needs a symbol version (GLIBC_2.x, ...) that the bundled library does not define, or when the zip
is over the size limit (8 MB).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

TASK_ROOT = "/var/task"
SIZE_LIMIT = 8 * 1000 * 1000  # bytes: "8 MB", the project's budget for one zip

ARCHS = {
    "x86_64": {
        "machine": "Advanced Micro Devices X86-64",
        "loader": "ld-linux-x86-64.so.2",
        "libdirs": ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"],
        "strip": "strip",
        "gcc_runtime_doc": "libstdc++6",
    },
    # The :arm64 libc6 (Debian's security-patched 2.36-9+deb12uN) comes before the cross
    # toolchain's copy (libc6-arm64-cross, 2.36-8cross1) that the linker used: same 2.36 ABI and
    # symbol versions (checked below), newer fixes.
    "arm64": {
        "machine": "AArch64",
        "loader": "ld-linux-aarch64.so.1",
        "libdirs": [
            "/lib/aarch64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/aarch64-linux-gnu/lib",
        ],
        "strip": "aarch64-linux-gnu-strip",
        "gcc_runtime_doc": "libstdc++6-arm64-cross",
    },
}


class PackageError(Exception):
    pass


def run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise PackageError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result.stdout


# ------------------------------------------------------------------------------ ELF facts


def elf_machine(path: Path) -> str:
    match = re.search(r"Machine:\s+(.+)", run("readelf", "-h", str(path)))
    return match.group(1).strip() if match else "?"


def interpreter(path: Path) -> str | None:
    match = re.search(r"Requesting program interpreter: ([^\]]+)\]", run("readelf", "-lW", str(path)))
    return match.group(1) if match else None


def needed(path: Path) -> list[str]:
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run("readelf", "-dW", str(path)))


def rpath(path: Path) -> list[str]:
    return re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library (?:rpath|runpath): \[([^\]]+)\]",
                      run("readelf", "-dW", str(path)))


def version_needs(path: Path) -> dict[str, set[str]]:
    """soname -> the symbol versions (GLIBC_2.34, ...) this object needs from it."""
    out: dict[str, set[str]] = {}
    text = run("readelf", "-VW", str(path))
    section = text.split("Version needs section", 1)
    if len(section) < 2:
        return out
    current = None
    for line in section[1].splitlines():
        file_match = re.search(r"File: (\S+)", line)
        if file_match:
            current = file_match.group(1)
            out.setdefault(current, set())
            continue
        name_match = re.search(r"Name: (\S+)", line)
        if name_match and current:
            out[current].add(name_match.group(1))
        if line.startswith("Version") and "needs" not in line:
            break
    return out


def version_definitions(path: Path) -> set[str]:
    text = run("readelf", "-VW", str(path))
    section = text.split("Version definition section", 1)
    if len(section) < 2:
        return set()
    body = section[1].split("Version needs section", 1)[0].split("Version symbols section", 1)[0]
    return set(re.findall(r"Name: (\S+)", body))


def glibc_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.removeprefix("GLIBC_").split("."))


# ------------------------------------------------------------------------------ staging


def find_library(name: str, libdirs: list[str]) -> Path:
    for folder in libdirs:
        candidate = Path(folder) / name
        if candidate.exists():
            return candidate.resolve()
    raise PackageError(f"NEEDED library {name} not found in {', '.join(libdirs)}")


def stage(arch: str, binary: Path, stage_dir: Path) -> dict:
    spec = ARCHS[arch]
    if elf_machine(binary) != spec["machine"]:
        raise PackageError(f"{binary} is a {elf_machine(binary)} binary, not {arch}")
    lib = stage_dir / "lib"
    lib.mkdir(parents=True)

    # The closure: the loader, then NEEDED recursively (by soname).
    interp = interpreter(binary)
    if interp is None or Path(interp).name != spec["loader"]:
        raise PackageError(f"{binary}: unexpected interpreter {interp!r} (want {spec['loader']})")
    sources: dict[str, Path] = {spec["loader"]: find_library(spec["loader"], spec["libdirs"])}
    queue = list(needed(binary))
    while queue:
        name = queue.pop()
        if name in sources:
            continue
        sources[name] = find_library(name, spec["libdirs"])
        queue.extend(needed(sources[name]))

    for name, source in sorted(sources.items()):
        target = lib / name
        shutil.copyfile(source, target)
        run(spec["strip"], "--strip-unneeded", str(target))

    bootstrap = stage_dir / "bootstrap"
    shutil.copyfile(binary, bootstrap)
    run(spec["strip"], "--strip-all", str(bootstrap))
    run("patchelf", "--set-interpreter", f"{TASK_ROOT}/lib/{spec['loader']}", "--force-rpath",
        "--set-rpath", f"{TASK_ROOT}/lib", str(bootstrap))
    for path in [bootstrap, *lib.iterdir()]:
        path.chmod(0o755)
    check_closure(stage_dir, spec)
    write_notices(stage_dir, arch, sorted(sources))
    return {"libs": sorted(sources)}


def check_closure(stage_dir: Path, spec: dict) -> None:
    """Every NEEDED of every object is bundled, and defines every version asked of it."""
    lib = stage_dir / "lib"
    objects = [stage_dir / "bootstrap", *sorted(lib.iterdir())]
    definitions = {p.name: version_definitions(p) for p in lib.iterdir()}
    if interpreter(stage_dir / "bootstrap") != f"{TASK_ROOT}/lib/{spec['loader']}":
        raise PackageError("bootstrap's interpreter was not set to the bundled loader")
    for obj in objects:
        for name in needed(obj):
            if name not in definitions:
                raise PackageError(f"{obj.name} needs {name}, which is not bundled")
        for soname, versions in version_needs(obj).items():
            missing = sorted(versions - definitions.get(soname, set()))
            if missing:
                raise PackageError(
                    f"{obj.name} needs {', '.join(missing)} from {soname}, which the bundled "
                    f"{soname} does not define (newer than the bundled library)"
                )


# ------------------------------------------------------------------------------ licences

NOTICE_HEAD = """\
Obsync's AWS Lambda package: bundled third-party components
============================================================

`bootstrap` is Obsync's obsync-lambda, linked statically with the libraries below (marked
"static"); `lib/` holds the GNU C Library as shared objects (marked "lib/"). The licence texts
and Debian's copyright files are in `licenses/`. All components come from Debian 12 packages;
their sources are at the Debian archive under the source package named here.

"""

COMPONENTS = [
    # (what, where, Debian package for the version, source package, licence, files in licenses/)
    ("GNU C Library (glibc): the loader, libc, libm and the rest of lib/", "lib/",
     "libc6", "glibc",
     "LGPL-2.1-or-later (some parts under other permissive licences, see glibc.copyright)",
     ["glibc.copyright", "LGPL-2.1"]),
    ("GNU C++ library (libstdc++) and GCC runtime (libgcc)", "static",
     "libstdc++6", "gcc-12",
     "GPL-3.0-or-later WITH GCC-exception-3.1 (the GCC Runtime Library Exception)",
     ["gcc-runtime.copyright", "GPL-3"]),
    ("OpenSSL (libssl, libcrypto)", "static", "libssl3", "openssl",
     "Apache-2.0", ["openssl.copyright", "Apache-2.0"]),
    ("SQLite", "static", "libsqlite3-0", "sqlite3", "public domain",
     ["sqlite.copyright"]),
    ("Boost (JSON, and the header-only Asio, Beast and others)", "static",
     "libboost-json1.81.0", "boost1.81", "BSL-1.0", ["BSL-1.0"]),
    ("utf8proc", "static", "libutf8proc2", "utf8proc", "MIT (Expat); its data tables: Unicode",
     ["utf8proc.copyright"]),
]


def package_version(package: str, arch: str) -> str:
    debian_arch = "amd64" if arch == "x86_64" else "arm64"
    for name in (f"{package}:{debian_arch}", package):
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                                capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip()
    return "unknown"


def boost_licence_text() -> str:
    text = Path("/usr/share/doc/libboost-json1.81.0/copyright").read_text(errors="replace")
    match = re.search(r"^License: BSL-1\.0\n((?: .*\n)+)", text, re.M)
    if not match:
        raise PackageError("no BSL-1.0 text in /usr/share/doc/libboost-json1.81.0/copyright")
    return "".join(line[1:] if line != " .\n" else "\n" for line in match.group(1).splitlines(True))


def write_notices(stage_dir: Path, arch: str, libs: list[str]) -> None:
    spec = ARCHS[arch]
    licences = stage_dir / "licenses"
    licences.mkdir()
    copies = {
        "glibc.copyright": "/usr/share/doc/libc6/copyright",
        "gcc-runtime.copyright": f"/usr/share/doc/{spec['gcc_runtime_doc']}/copyright",
        "openssl.copyright": "/usr/share/doc/libssl3/copyright",
        "sqlite.copyright": "/usr/share/doc/libsqlite3-0/copyright",
        "utf8proc.copyright": "/usr/share/doc/libutf8proc2/copyright",
        "LGPL-2.1": "/usr/share/common-licenses/LGPL-2.1",
        "GPL-3": "/usr/share/common-licenses/GPL-3",
        "Apache-2.0": "/usr/share/common-licenses/Apache-2.0",
    }
    for name, source in copies.items():
        if not Path(source).exists():
            raise PackageError(f"licence file {source} is missing (install the package)")
        shutil.copyfile(source, licences / name)
    (licences / "BSL-1.0").write_text(boost_licence_text())

    lines = [NOTICE_HEAD]
    for what, where, package, source, licence, files in COMPONENTS:
        if package == "libstdc++6":  # the cross toolchain's own runtime for arm64
            package = spec["gcc_runtime_doc"]
        version = package_version(package, arch)
        lines.append(f"* {what}\n  in: {where}; Debian {package} {version} (source package "
                     f"{source})\n  licence: {licence}\n  texts: "
                     + ", ".join(f"licenses/{f}" for f in files) + "\n")
    lines.append("\nFiles in lib/: " + ", ".join(libs) + "\n")
    lines.append(
        "\nglibc is LGPL: it is bundled as unmodified shared libraries, so it can be replaced by\n"
        "another build of glibc 2.36 in lib/ (the loader is lib/" + spec["loader"] + ").\n"
    )
    (stage_dir / "THIRD-PARTY-NOTICES").write_text("".join(lines))


# ------------------------------------------------------------------------------ the zip


def zip_timestamp() -> tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        t = time.gmtime(max(int(epoch), 315532800))  # zip cannot hold dates before 1980
        return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2)
    return (1980, 1, 1, 0, 0, 0)


def write_zip(stage_dir: Path, out: Path, limit: int = SIZE_LIMIT) -> None:
    stamp = zip_timestamp()
    files = sorted(p for p in stage_dir.rglob("*") if p.is_file())
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for path in sorted(files, key=lambda p: p.relative_to(stage_dir).as_posix()):
            name = path.relative_to(stage_dir).as_posix()
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3  # Unix: external_attr holds the mode
            executable = name == "bootstrap" or name.startswith("lib/")
            info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED,
                             compresslevel=9)
    size = tmp.stat().st_size
    if size > limit:
        tmp.unlink()
        raise PackageError(f"{out.name} would be {size} bytes, over the {limit}-byte limit")
    tmp.replace(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(ARCHS), required=True)
    parser.add_argument("--binary", type=Path, required=True, help="the linked obsync-lambda")
    parser.add_argument("--out", type=Path, required=True, help="the zip to write")
    parser.add_argument("--keep-stage", type=Path, help="also leave the staged tree here")
    parser.add_argument("--max-bytes", type=int, default=SIZE_LIMIT,
                        help=f"the largest zip allowed (default {SIZE_LIMIT})")
    args = parser.parse_args()
    try:
        if not args.binary.is_file():
            raise PackageError(f"{args.binary} does not exist (build it first)")
        with tempfile.TemporaryDirectory(prefix="obsync-package-") as tmp:
            stage_dir = Path(tmp) / "stage"
            info = stage(args.arch, args.binary, stage_dir)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            write_zip(stage_dir, args.out, args.max_bytes)
            if args.keep_stage:
                shutil.rmtree(args.keep_stage, ignore_errors=True)
                shutil.copytree(stage_dir, args.keep_stage)
    except PackageError as e:
        print(f"package_lambda: {e}", file=sys.stderr)
        return 1
    print(f"package_lambda: {args.out} ({args.out.stat().st_size} bytes; lib/: "
          f"{', '.join(info['libs'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
