"""``python -m bench.mcp_latency [--files 2000] [--starts 10] [--runs 3] [--think 5]``.

Starts ``brainsync mcp`` over stdio as Claude Desktop does (the console script, the
2025-11-25 ``initialize`` handshake, then ``tools/list``) and times, with plain JSON-RPC
lines so that no client library weighs on the figures: ``initialize`` from process start;
the first and the median ``start_job`` (a sync of ``--files`` files: the id must come back
before any work), the first sent ``--think`` seconds after the handshake, as a model's
first call comes (0: at once, which waits for the brain to open); and the median
``get_entity``. Targets: initialize < 1 s, start_job < 100 ms. A benchmark, not a test:
run it on purpose; its figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.corpus import generate, write_files

PROTOCOL = "2025-11-25"  # the handshake Claude Desktop sends
RUNNING = ("queued", "running")


class StdioServer:
    """``brainsync mcp`` as a subprocess, spoken to in newline-delimited JSON-RPC."""

    def __init__(self, brain: Path, home: Path) -> None:
        script = Path(sys.executable).with_name("brainsync")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "brainsync"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINSYNC_")}
        args = [*command, "--dir", str(brain), "--home", str(home), "mcp"]
        self.started = time.perf_counter()
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self._next_id = 0

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send one request; return its result (notifications on the way are skipped)."""
        self._next_id += 1
        self._send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            message = json.loads(line)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result
        raise RuntimeError(f"the server exited during {method}")

    def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """Call a tool; return its structured result."""
        result = self.request("tools/call", {"name": tool, "arguments": arguments})
        if result.get("isError"):
            raise RuntimeError(f"{tool}: {result['content']}")
        structured: dict[str, Any] = result["structuredContent"]
        return structured

    def notify(self, method: str) -> None:
        self._send({"jsonrpc": "2.0", "method": method})

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message).encode() + b"\n")
        self._proc.stdin.flush()

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()  # end of input: the server stops its worker and exits
        try:
            self._proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _timed(server: StdioServer, tool: str, **arguments: Any) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = server.call(tool, **arguments)
    return time.perf_counter() - started, result


def one_run(work: Path, files: int, starts: int, think: float) -> dict[str, float]:
    """One server process: initialize, ``starts`` start_job calls, then get_entity reads."""
    brain, home = work / "brain", work / "home"
    shutil.rmtree(work, ignore_errors=True)
    brain.mkdir(parents=True)
    docs = list(generate(files))
    write_files(iter(docs), brain)
    server = StdioServer(brain, home)
    try:
        hello = {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        }
        server.request("initialize", hello)
        initialize = time.perf_counter() - server.started
        server.notify("notifications/initialized")
        server.request("tools/list", {})
        time.sleep(think)
        started = [_timed(server, "start_job", kind="sync") for _ in range(starts)]
        last = started[-1][1]["job_id"]
        while server.call("get_job", job_id=last, wait_seconds=20)["state"] in RUNNING:
            pass
        page = server.call("list_entities", limit=20)["items"]
        reads = [_timed(server, "get_entity", type=i["type"], id=i["id"])[0] for i in page]
    finally:
        server.close()
    start_times = [seconds for seconds, _ in started]
    return {
        "initialize": initialize,
        "start_job first": start_times[0],
        "start_job median": statistics.median(start_times),
        "start_job max": max(start_times),
        "get_entity median": statistics.median(reads),
    }


def render(runs: list[dict[str, float]], files: int, starts: int, think: float) -> str:
    """The figures of every run and their median, as a markdown table (milliseconds)."""
    names = list(runs[0])
    heads = " | ".join(f"run {i + 1}" for i in range(len(runs)))
    lines = [
        f"MCP over stdio: {files} files, {starts} start_job calls per run (the first "
        f"{think:g} s after the handshake), {len(runs)} runs",
        "",
        f"| measure | {heads} | median | target |",
        "|---|" + "---|" * (len(runs) + 2),
    ]
    targets = {"initialize": "< 1000", "start_job first": "< 100", "start_job median": "< 100"}
    for name in names:
        values = [run[name] * 1000 for run in runs]
        cells = " | ".join(f"{v:.0f}" for v in values)
        median = statistics.median(values)
        lines.append(f"| {name} (ms) | {cells} | {median:.0f} | {targets.get(name, '')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mcp_latency", description=__doc__)
    parser.add_argument("--files", type=int, default=2000, help="files in the synced folder")
    parser.add_argument("--starts", type=int, default=10, help="start_job calls per run")
    parser.add_argument("--runs", type=int, default=3, help="server processes, one after another")
    parser.add_argument(
        "--think", type=float, default=5.0, help="seconds between the handshake and start_job"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="brainsync-mcp-bench-") as tmp:
        work = [Path(tmp) / f"run{i}" for i in range(args.runs)]
        runs = [one_run(path, args.files, args.starts, args.think) for path in work]
    print(render(runs, args.files, args.starts, args.think))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n(load average {load:.1f} on {os.cpu_count()} CPUs while measuring)")


if __name__ == "__main__":
    main()
