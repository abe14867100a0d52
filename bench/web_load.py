"""Load check of the web app: concurrent uploads of real FIT files to a real gunicorn.

Starts ``python -m fit_converter.app`` on temporary folders, logs in like a browser
(session cookie and CSRF token), sends N uploads at once from N threads, then waits
until every job is finished. It reports upload latency (request sent to 202
response), end-to-end latency (request sent to job finished) and checks that every
input ended in archive/ or failed/ and every converted job has its CSV.

    .venv/bin/python bench/web_load.py --uploads 50 [--samples ../shared/fit-samples]

Sample files are the activity files of the corpus's MANIFEST.tsv with records, up to
--max-mb each, picked evenly from smallest to largest.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from fit_converter.web.owner import write_password

PASSWORD = "load check password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def activity_samples(folder: Path, max_bytes: int) -> list[Path]:
    """Return the corpus's activity files with records, smallest first."""
    rows = (folder / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    chosen = []
    for row in rows:
        path, _, _, _, size, _, _, notes = row.split("\t")[:8]
        if (
            "type=activity" in notes
            and re.search(r"records=[1-9]", notes)
            and int(size) <= max_bytes
        ):
            chosen.append((int(size), folder / path))
    return [path for _, path in sorted(chosen)]


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return (
        head + content + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=50, help="concurrent uploads (default 50)")
    parser.add_argument(
        "--samples",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "fit-samples",
        help="FIT corpus folder with MANIFEST.tsv",
    )
    parser.add_argument(
        "--max-mb", type=float, default=4.0, help="maximum size of a sample file, in MiB"
    )
    parser.add_argument("--threads", type=int, default=8, help="gunicorn request threads")
    args = parser.parse_args()

    samples = activity_samples(args.samples, int(args.max_mb * 2**20))
    if not samples:
        print(f"no activity samples in {args.samples}", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="fit-converter-load-"))
    env = {
        **os.environ,
        "FIT_CONVERTER_DATA_DIR": str(work / "data"),
        "FIT_CONVERTER_STATE_DIR": str(work / "state"),
        "FLASK_SECRET_KEY": "load-check-secret-0123456789",
        "FIT_CONVERTER_LOG_LEVEL": "WARNING",
    }
    write_password(work / "state" / "owner-password.hash", PASSWORD)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (work / "app.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fit_converter.app",
            "--port",
            str(port),
            "--threads",
            str(args.threads),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        return run(args, samples, base, work)
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def run(args: argparse.Namespace, samples: list[Path], base: str, work: Path) -> int:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)  # type: ignore[union-attr]
    body = urllib.parse.urlencode({"csrf_token": token, "password": PASSWORD}).encode()
    opener.open(base + "/login", data=body).close()
    upload_page = opener.open(base + "/upload").read().decode()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', upload_page).group(1)  # type: ignore[union-attr]

    # Spread the uploads over the whole size range of the corpus, smallest to largest.
    picks = [samples[number * len(samples) // args.uploads] for number in range(args.uploads)]
    files = [(f"load {number:02d} {path.name}", path) for number, path in enumerate(picks)]
    results: list[dict[str, Any]] = [{} for _ in files]
    start_gate = threading.Barrier(len(files))

    def send(index: int, name: str, path: Path) -> None:
        content = path.read_bytes()
        payload, content_type = multipart(name, content)
        request = urllib.request.Request(
            base + "/upload",
            data=payload,
            headers={
                "Content-Type": content_type,
                "Accept": "application/json",
                "X-CSRFToken": csrf,
            },
            method="POST",
        )
        start_gate.wait()
        sent = time.monotonic()
        with opener.open(request, timeout=600) as response:
            answer = json.load(response)
            status = response.status
        accepted = time.monotonic()
        job_id = answer["jobs"][0]["id"]
        while True:
            with opener.open(f"{base}/jobs/{job_id}.json", timeout=60) as response:
                job = json.load(response)
            if job["finished"]:
                break
            time.sleep(0.1)
        results[index] = {
            "name": name,
            "bytes": len(content),
            "http": status,
            "upload_s": accepted - sent,
            "total_s": time.monotonic() - sent,
            "job": job,
        }

    threads = [
        threading.Thread(target=send, args=(index, name, path))
        for index, (name, path) in enumerate(files)
    ]

    # While the uploads convert, load the history page every 0.5 s, as a user would.
    page_times: list[float] = []
    busy = threading.Event()
    busy.set()

    def probe_page() -> None:
        while busy.is_set():
            requested = time.monotonic()
            opener.open(base + "/history", timeout=60).read()
            page_times.append(time.monotonic() - requested)
            time.sleep(0.5)

    prober = threading.Thread(target=probe_page)
    began = time.monotonic()
    for thread in threads:
        thread.start()
    prober.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    busy.clear()
    prober.join()
    return report(files, results, page_times, wall, work, len(samples))


def report(
    files: list[tuple[str, Path]],
    results: list[dict[str, Any]],
    page_times: list[float],
    wall: float,
    work: Path,
    distinct: int,
) -> int:
    """Print the numbers and check that every input is accounted for; return the exit status."""
    data = work / "data"
    statuses = [result.get("job", {}).get("status") for result in results]
    missing = [name for (name, _), result in zip(files, results, strict=True) if not result]
    failed_inputs = [p for p in (data / "failed").iterdir() if not p.name.endswith(".error.txt")]
    stored = len(list((data / "archive").iterdir())) + len(failed_inputs)
    csvs = len(list((data / "outbox").glob("*.csv")))
    leftovers = [p for p in (work / "state" / "uploads").rglob("*") if p.is_file()]
    answered = [result for result in results if result]
    megabytes = sum(result["bytes"] for result in answered) / 2**20
    accepted = sum(1 for result in answered if result["http"] == 202)

    print(f"uploads: {len(files)} at once, {megabytes:.1f} MiB, {distinct} distinct samples")
    print(f"wall time: {wall:.1f} s, {len(files) / wall:.2f} files/s")
    print(
        f"HTTP 202: {accepted}, converted: {statuses.count('converted')}, "
        f"failed: {statuses.count('failed')}, no answer: {len(missing)}"
    )
    print(
        f"inputs in archive/ + failed/: {stored}, CSVs in outbox: {csvs}, "
        f"staged files left: {len(leftovers)}"
    )
    measured = (
        ("upload (sent to 202)", [result["upload_s"] for result in answered]),
        ("end to end (sent to finished)", [result["total_s"] for result in answered]),
        (f"GET /history meanwhile ({len(page_times)} requests)", page_times),
    )
    for label, values in measured:
        print(
            f"{label}: p50 {percentile(values, 0.5):.2f} s, p90 {percentile(values, 0.9):.2f} s, "
            f"p99 {percentile(values, 0.99):.2f} s, max {max(values):.2f} s"
        )
    for result in answered:
        if result["job"]["status"] != "converted":
            print(f"{result['job']['status']}: {result['name']}: {result['job']['error']}")

    lost = len(missing) + (len(files) - stored) + len(leftovers)
    ok = lost == 0 and csvs == statuses.count("converted")
    print("result:", "OK, nothing lost" if ok else f"PROBLEM: {lost} input(s) unaccounted for")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
