"""Contract v1 in Flask: backs up a folder as a streamed tar.gz and restores it.

    pip install flask
    BACKUP_TOKEN=s3cret DATA_DIR=./data python3 app.py 127.0.0.1:9004
"""
import hashlib, hmac, os, shutil, subprocess, sys, tempfile
from flask import Flask, Response, jsonify, request

app = Flask(__name__)
TOKEN = os.environ["BACKUP_TOKEN"]
DATA_DIR = os.path.abspath(os.environ.get("DATA_DIR", "data"))
TYPES = [{"name": "full", "media_type": "application/gzip", "extension": "tar.gz"}]

def error(status, code, message):
    return jsonify(error=code, message=message), status

@app.before_request
def require_token():  # every contract route needs the bearer token (constant-time compare)
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {TOKEN}".encode()):
        return error(401, "unauthorized", "missing or wrong bearer token")

@app.get("/backup/capabilities")
def capabilities():
    return jsonify(contract="v1", app="flask-files", types=TYPES, restore=True)

@app.post("/backup/export")
def export():
    wanted = (request.get_json(silent=True) or {}).get("type") or "full"
    if wanted != "full":
        return error(422, "unknown_type", f"unknown backup type {wanted!r}: this app offers full")
    tar = subprocess.Popen(["tar", "-czf", "-", "-C", DATA_DIR, "."], stdout=subprocess.PIPE)
    def body():  # streamed (chunked): never read the whole backup into memory
        while chunk := tar.stdout.read(65536):
            yield chunk
        if tar.wait() != 0:  # raising cuts the connection: a failed dump never ends cleanly
            raise RuntimeError(f"tar exited with {tar.returncode}")
    return Response(body(), mimetype="application/gzip")

@app.post("/backup/import")
def restore():
    if request.headers.get("Backup-Type") != "full":
        return error(422, "unknown_type", "Backup-Type must be full")
    expected = request.headers.get("Backup-Sha256", "").lower()
    staging = tempfile.mkdtemp(dir=os.path.dirname(DATA_DIR))  # extract aside, swap at the end
    tar = subprocess.Popen(["tar", "-xzf", "-", "-C", staging], stdin=subprocess.PIPE)
    digest, size = hashlib.sha256(), 0
    while chunk := request.stream.read(65536):
        digest.update(chunk); size += len(chunk); tar.stdin.write(chunk)
    if digest.hexdigest() != expected:
        tar.kill(); tar.wait(); shutil.rmtree(staging)
        return error(422, "checksum_mismatch", "the body does not match Backup-Sha256; nothing was restored")
    tar.stdin.close()
    if tar.wait() != 0:
        shutil.rmtree(staging)
        return error(500, "import_failed", "tar could not extract the backup; nothing was restored")
    shutil.rmtree(DATA_DIR, ignore_errors=True); os.rename(staging, DATA_DIR)
    return jsonify(restored=True, bytes=size)

if __name__ == "__main__":
    from werkzeug.serving import make_server
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9004").rsplit(":", 1)
    server = make_server(host, int(port), app, threaded=True)  # threaded = HTTP/1.1, chunked bodies
    print(f"listening on http://{host}:{server.port}", flush=True)
    server.serve_forever()
