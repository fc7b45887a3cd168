#!/usr/bin/env python3
"""Pipelining clients that never read: the daemon's resident memory before, during and after.

Starts the release daemon on loopback, reads its VmRSS (/proc/PID/status) as the baseline, then opens CLIENTS
connections that each pipeline REQUESTS `GET /healthz` requests (answered without the store) as fast as the daemon
takes them and never read an answer. Once no client can send more (the daemon stopped reading from all of them), it
prints VmRSS "during", closes every client, waits SETTLE seconds and prints VmRSS "after", with VmHWM (the peak).

Usage: bench-pipelining-rss.py BIN_DIR WORK_DIR PORT [CLIENTS] [REQUESTS] [SETTLE]
Run by scripts/bench.sh (make bench); see docs/benchmarks.md.
"""
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time

bin_dir, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
clients = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
requests = int(sys.argv[5]) if len(sys.argv) > 5 else 20000
settle = float(sys.argv[6]) if len(sys.argv) > 6 else 5

# One descriptor per client; the daemon raises its own limit.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
os.makedirs(work, exist_ok=True)
for suffix in ("", "-wal", "-shm"):
    try:
        os.remove(f"{work}/pipelining.db{suffix}")
    except FileNotFoundError:
        pass
log = open(f"{work}/serve-pipelining.log", "w")
env = dict(os.environ, HOOKYARD_LISTEN=f"127.0.0.1:{port}", HOOKYARD_DATABASE=f"{work}/pipelining.db",
           HOOKYARD_ADMIN_LISTEN="off", HOOKYARD_LOG_LEVEL="warning")
daemon = subprocess.Popen([f"{bin_dir}/hookyard", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)


def status(field):
    with open(f"/proc/{daemon.pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


for _ in range(200):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            if probe.recv(100).startswith(b"HTTP/1.1 200"):
                break
    except OSError:
        time.sleep(0.05)
else:
    daemon.kill()
    sys.exit(f"the daemon did not start; see {work}/serve-pipelining.log")
time.sleep(1)
baseline = status("VmRSS")

payload = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n" * requests
selector = selectors.DefaultSelector()
sockets = []
for _ in range(clients):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    sockets.append(s)
    selector.register(s, selectors.EVENT_WRITE, [s, 0])
started = time.monotonic()
last_progress = time.monotonic()
sent_total = 0
# Send until every client has sent everything, or nothing moved for 3 s (the daemon stopped reading from them).
while selector.get_map() and time.monotonic() - last_progress < 3:
    for key, _ in selector.select(timeout=0.2):
        state = key.data
        try:
            count = state[0].send(payload[state[1]:state[1] + 65536])
        except BlockingIOError:
            continue
        except OSError:
            selector.unregister(state[0])
            continue
        state[1] += count
        sent_total += count
        last_progress = time.monotonic()
        if state[1] >= len(payload):
            selector.unregister(state[0])
time.sleep(1)
during = status("VmRSS")
for s in sockets:
    s.close()
time.sleep(settle)
after = status("VmRSS")
peak = status("VmHWM")
daemon.send_signal(signal.SIGTERM)
daemon.wait(timeout=30)
print(f"PIPELINING clients={clients} requests_each={requests} sent_mb={sent_total / 1048576:.1f} "
      f"sent_requests={sent_total // len(payload[:len(payload) // requests])} rss_baseline_mb={baseline:.1f} rss_during_mb={during:.1f} "
      f"rss_after_close_mb={after:.1f} rss_peak_mb={peak:.1f}")
