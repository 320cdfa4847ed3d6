"""Generate the cffi embedding source of libmetacall.so from the shim's headers.

The headers under ``include/metacall/`` and ``src/`` are the single source of truth of the ABI:
this script reads them, turns them into cffi declarations and writes one C file that CMake
compiles together with the shim's own C sources. Usage::

    python build_shim.py OUTPUT_DIR VENV_DIR

``VENV_DIR`` is baked into the library as the default Python environment; the
``MLBRIDGE_VENV`` environment variable overrides it at run time.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
MODULE = "_mlbridge_cffi"

# Declarations that Python code may call in C (cffi `lib`); cffi also checks at compile time
# that each one matches its C implementation.
C_HEADERS = [
    HERE / "include" / "metacall" / "metacall_value.h",
    HERE / "include" / "metacall" / "metacall_error.h",
    HERE / "include" / "metacall" / "metacall.h",
    HERE / "src" / "c_api.h",
]
# Declarations implemented in Python with @ffi.def_extern (bridge/_cabi.py).
PYTHON_HEADERS = [
    HERE / "src" / "python_api.h",
    HERE / "include" / "metacall" / "mlbridge_bench.h",
]

INIT_CODE = """
import os, site, sys

# An embedded interpreter has no argv; libraries such as absl (TensorFlow) read it.
if not hasattr(sys, "argv"):
    sys.argv = [""]
_venv = os.environ.get("MLBRIDGE_VENV") or {venv!r}
_site = os.path.join(_venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")


def _include_system_site(venv):
    # pyvenv.cfg's include-system-site-packages (false when absent); no pyvenv.cfg: not a venv
    # but a Python prefix, whose interpreter's own directories stay.
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as cfg:
            for line in cfg:
                key, sep, value = line.partition("=")
                if sep and key.strip().lower() == "include-system-site-packages":
                    return value.strip().lower() == "true"
    except OSError:
        return True
    return False


if os.path.isdir(_site):
    # The embedded interpreter starts as the base one: its site-packages (and the user's) are
    # on sys.path already and would shadow the environment's pinned packages (and import what
    # the environment does not have: Keras imports IPython when it can, ~20 MB). Put the
    # environment's first, as its own python does, and keep the others only if it says so.
    _dirs = {{os.path.realpath(d) for d in [*site.getsitepackages(), site.getusersitepackages()]}}
    _system = [p for p in sys.path if os.path.realpath(p) in _dirs]
    sys.path[:] = [p for p in sys.path if p not in _system]
    site.addsitedir(_site)
    if _include_system_site(_venv):
        sys.path.extend(p for p in _system if p not in sys.path)
try:
    import bridge._cabi
except BaseException as _exc:
    # Keep the process alive and let metacall_initialize report why Python cannot serve.
    from {module} import ffi as _ffi, lib as _lib
    _reason = "cannot import bridge._cabi (Python environment %s): %s: %s" % (
        _venv, type(_exc).__name__, _exc)

    @_ffi.def_extern(name="mlbridge_py_start")
    def _start_failed():
        _lib.mlbridge_record_error(b"mlbridge.InitializeError", _reason.encode("utf-8", "replace"),
                                   b"")
        return 0
"""


def declarations(header: Path) -> str:
    """The C declarations of ``header`` in the form cffi's parser accepts."""
    text = header.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    text = re.sub(r"//[^\n]*", "", text)
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        # Preprocessor lines and the C++ `extern "C" { ... }` wrapper carry no declarations.
        if stripped.startswith("#") or stripped in ('extern "C" {', "}"):
            continue
        lines.append(line)
    body = "\n".join(lines)
    body = body.replace("METACALL_API ", "")
    return re.sub(r"\bboolean\b", "unsigned char", body)


def build(output_dir: Path, venv: Path) -> Path:
    ffi = cffi.FFI()
    ffi.cdef("\n".join(declarations(h) for h in C_HEADERS))
    ffi.embedding_api("\n".join(declarations(h) for h in PYTHON_HEADERS))
    ffi.set_source(
        MODULE,
        '#include <metacall/metacall.h>\n#include "c_api.h"\n',
    )
    ffi.embedding_init_code(INIT_CODE.format(venv=str(venv), module=MODULE))
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{MODULE}.c"
    ffi.emit_c_code(str(target))
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build(Path(argv[1]), Path(argv[2]).resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
