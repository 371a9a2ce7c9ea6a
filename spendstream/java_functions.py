"""Build the spendstream functions jar: the Java half of the cost job's per-event path.

Flink runs the cost job's per-event work natively; the one step SQL cannot express, reading
single-object Avro, is a small Java table function (jobs/java). This module compiles it
against PyFlink's own jars, adds ``writers.json`` (every known schema version with its
fingerprint header, generated from schemas/ so Java and Python read the same versions) and
writes the jar into Flink's lib directory, where the embedded cluster, local runs and
``flink run`` all find it. The jar records a digest of its inputs, so a stale jar is rebuilt.

    python -m spendstream.java_functions      # what `make setup` runs
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pyflink

from schemas import codec
from spendstream import SOURCE_ROOT

JAVA_SOURCES = SOURCE_ROOT / "jobs" / "java"
JAR_NAME = "spendstream-functions.jar"
PACKAGE = "io/spendstream/flink"
DIGEST_ENTRY = "META-INF/spendstream-functions.sha256"
DECODE_COST_EVENT = "io.spendstream.flink.DecodeCostEvent"
ACCOUNT_SETTINGS_CONNECTOR = "spendstream-account-settings"  # io.spendstream.flink.AccountSettingsFactory


def flink_lib() -> Path:
    """PyFlink's lib directory: FLINK_HOME/lib of the embedded cluster and of local runs."""
    return Path(pyflink.__file__).resolve().parent / "lib"


def pyflink_home() -> Path:
    """FLINK_HOME of the embedded cluster and of ``flink run``: PyFlink's own folder."""
    return flink_lib().parent


def jar_path() -> Path:
    return flink_lib() / JAR_NAME


def writers_json() -> bytes:
    """Every schema version the codec reads, as Java needs it: header hex, name, current, schema."""
    writers = [
        {"header": v.header.hex(), "name": v.name.value, "current": v.current, "schema": v.schema}
        for v in codec().versions()
    ]
    return json.dumps(writers, sort_keys=True).encode()


def sources() -> list[Path]:
    return sorted(JAVA_SOURCES.rglob("*.java"))


def resources() -> list[Path]:
    """What goes into the jar as it is: the service file that makes the settings connector known."""
    return sorted(p for p in JAVA_SOURCES.rglob("*") if p.is_file() and p.suffix != ".java")


def digest() -> str:
    """What the jar is built from: the Java sources and the schema versions."""
    hasher = hashlib.sha256(writers_json())
    for source in [*sources(), *resources()]:
        hasher.update(source.read_bytes())
    return hasher.hexdigest()


def built_digest(jar: Path) -> str | None:
    try:
        with zipfile.ZipFile(jar) as archive:
            return archive.read(DIGEST_ENTRY).decode()
    except (OSError, KeyError, zipfile.BadZipFile):
        return None


def is_current(jar: Path | None = None) -> bool:
    return built_digest(jar or jar_path()) == digest()


def build(jar: Path | None = None) -> Path:
    """Compile jobs/java with javac and write the jar; errors say what to install."""
    jar = jar or jar_path()
    javac = os.environ.get("JAVAC") or shutil.which("javac")
    if javac is None:
        raise RuntimeError(
            "javac not found: building the spendstream functions jar needs a JDK "
            "(apt-get install openjdk-17-jdk-headless, or set JAVAC)"
        )
    with tempfile.TemporaryDirectory() as work:
        classes = Path(work)
        classpath = os.pathsep.join(str(p) for p in sorted(flink_lib().glob("*.jar")) if p != jar)
        completed = subprocess.run(
            [javac, "--release", "11", "-nowarn", "-d", str(classes), "-cp", classpath, *map(str, sources())],
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"javac failed on jobs/java:\n{completed.stdout}{completed.stderr}")
        partial = jar.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
            archive.writestr(DIGEST_ENTRY, digest())
            archive.writestr(f"{PACKAGE}/writers.json", writers_json())
            for compiled in sorted(classes.rglob("*.class")):
                archive.write(compiled, compiled.relative_to(classes).as_posix())
            for resource in resources():
                archive.write(resource, resource.relative_to(JAVA_SOURCES).as_posix())
        partial.replace(jar)
    return jar


def ensure_built() -> Path:
    """The current jar, building it only when its sources or schemas changed."""
    return jar_path() if is_current() else build()


if __name__ == "__main__":
    print(f"spendstream functions jar: {ensure_built()}")
