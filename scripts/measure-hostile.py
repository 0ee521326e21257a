# What one hostile client costs the others (issue 26), against one release binary:
#   python3 scripts/measure-hostile.py .build/release/storage-proxy [http|sched|search|vmem]
# Each case starts its own proxy (SQLite, a temp folder) and prints one line of figures.
import socket, json, sys, time, threading, subprocess, os, random, tempfile
binary = sys.argv[1]
def start(extra_yaml=""):
    d = tempfile.mkdtemp(prefix="measure-")
    with open(d + "/c.yaml", "w") as f: f.write("server:\n  http_listen: \"127.0.0.1:0\"\n" + extra_yaml)
    p = subprocess.Popen([binary, "serve", "--config", d + "/c.yaml", "--socket", d + "/p.sock", "--database", d + "/d.db"],
                         stdout=open(d + "/log", "w"), stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.exists(d + "/p.sock"): break
        time.sleep(0.05)
    time.sleep(0.3)
    port = None
    for line in open(d + "/log"):
        if "HTTP on http://127.0.0.1:" in line: port = int(line.split("127.0.0.1:")[1].split(" ")[0])
    return p, d, port
def rss(p):  # VmRSS, VmHWM in MiB
    v = {}
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith(("VmRSS", "VmHWM")): v[l.split(":")[0]] = int(l.split()[1]) // 1024
    return v
class C:
    def __init__(s, path): s.s = socket.socket(socket.AF_UNIX); s.s.connect(path); s.f = s.s.makefile("rb")
    def call(s, m, p=None):
        s.s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": m, "params": p or {}}) + "\n").encode()); return json.loads(s.f.readline())
def prober(path, stop, lat):
    c = C(path)
    while not stop[0]:
        t = time.perf_counter(); c.call("health_check"); lat.append(time.perf_counter() - t); time.sleep(0.005)
def pipelined(c, method, params, n):
    """Sends `n` calls at once on client `c` (from a thread) and reads the answers: one client's burst."""
    req = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}) + "\n") * n
    threading.Thread(target=lambda: c.s.sendall(req.encode())).start()
    for _ in range(n): c.f.readline()
def p99(l): l = sorted(l); return l[int(len(l) * 0.99)] * 1000 if l else 0
def others_while(path, work):
    stop = [False]; lat = []; th = threading.Thread(target=prober, args=(path, stop, lat)); th.start(); time.sleep(0.1)
    work(); stop[0] = True; th.join(); return p99(lat), max(lat) * 1000
which = sys.argv[2] if len(sys.argv) > 2 else "all"
# 1: HTTP batch of 20,000 rpc.discover
if which in ("all", "http"):
    p, d, port = start()
    before = rss(p)
    body = "[" + ",".join(['{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}'] * 20000) + "]"
    def work():
        s = socket.create_connection(("127.0.0.1", port)); s.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}".encode())
        n = 0
        while True:
            b = s.recv(1 << 20)
            if not b: break
            n += len(b)
        print(f"  http answer {n >> 20} MiB")
    q, m = others_while(d + "/p.sock", work)
    after = rss(p)
    print(f"1 HTTP 20,000 rpc.discover: peak RSS {before['VmHWM']} -> {after['VmHWM']} MiB, RSS after {after['VmRSS']} MiB; others' health_check p99 {q:.0f} ms max {m:.0f} ms")
    p.kill()
# 3: schedule.next_runs pipelined
if which in ("all", "sched"):
    p, d, port = start()
    c = C(d + "/p.sock")
    params = {"schedule_type": "cron", "schedule_value": "0 0 29 2 *", "time_zone": "America/New_York", "count": 100,
              "after": "2026-01-01T00:00:00Z"}
    q, m = others_while(d + "/p.sock", lambda: pipelined(c, "schedule.next_runs", params, 3000))
    print(f"3 3,000 pipelined next_runs (Feb 29, New York, 100 runs): others' health_check p99 {q:.0f} ms max {m:.0f} ms")
    p.kill()
# 2: heavy keyword searches
if which in ("all", "search"):
    p, d, port = start()
    c = C(d + "/p.sock")
    c.call("save_task", {"task": {"id": "t", "agent_name": "a", "task_prompt": "p", "schedule_type": "cron", "schedule_value": "0 9 * * *"}})
    vocab = [f"word{i}" for i in range(3000)]
    rnd = random.Random(1)
    for start_ in range(0, 20000, 1000):
        texts = [" ".join(vocab[min(int(len(vocab) * rnd.random() ** 3), len(vocab) - 1)] for _ in range(rnd.randint(8, 30))) for _ in range(1000)]
        c.call("vector.add_documents", {"ids": [f"d{i}" for i in range(start_, start_ + 1000)], "documents": texts})
    h = C(d + "/p.sock")
    q, m = others_while(d + "/p.sock", lambda: pipelined(h, "vector.search", {"query": " ".join(vocab[:64]), "top_k": 1000}, 200))
    print(f"2 200 pipelined 64-word searches top_k 1000 over 20k docs: others' health_check p99 {q:.0f} ms max {m:.0f} ms")
    p.kill()
# 5: vector memory, metadata
if which in ("all", "vmem"):
    p, d, port = start("vector:\n  max_memory_bytes: 8388608\n")
    c = C(d + "/p.sock")
    c.call("vector.create_collection", {"name": "w", "dimension": 4, "metric": "l2"})
    meta = {f"k{i}": f"v{i}" for i in range(64)}
    for s0 in range(0, 80000, 500):
        c.call("vector.add_documents", {"collection": "w", "ids": [f"id-{i}" for i in range(s0, s0 + 500)], "documents": ["x"] * 500,
                                        "metadata": [meta] * 500, "embeddings": [[i, 1, 2, 3] for i in range(s0, s0 + 500)]})
    b = rss(p)
    r = c.call("vector.search", {"collection": "w", "embedding": [1, 1, 1, 1], "top_k": 3})
    a = rss(p)
    st = c.call("server.status")["result"]["vectors"]["memory_bytes"]
    print(f"5 80,000 docs dim 4 with 64 metadata keys, cap 8 MiB: search -> {'error ' + str(r['error']['code']) if 'error' in r else str(len(r['result'])) + ' hits'}; "
          f"RSS {b['VmRSS']} -> {a['VmRSS']} MiB; status memory_bytes {st / 2**20:.1f} MiB")
    p.kill()
